"""The traveller's touch screen of an e-gate, served by the kiosk.

:class:`~kiosk.screen.hub.ScreenHub` observes the session (``observer=hub.observe``) and pushes a
view model (:mod:`kiosk.screen.view`) to the page over a websocket
(:func:`~kiosk.screen.app.create_screen_app`, :func:`~kiosk.screen.server.serve_screens`). The
page's texts come from one table (:mod:`kiosk.screen.translations`), in the language of the
passport's nationality (:mod:`kiosk.screen.languages`) until the traveller touches another.
"""
