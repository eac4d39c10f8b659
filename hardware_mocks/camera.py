"""Mock camera: films whatever *actor* stands in front of it (a live person, an attack, or an
empty scene), on its own seeded clock.

The camera's clock advances by one frame period (``1 / fps``, 10 fps by default) per captured
frame, whatever the wall clock does, and each frame's ``timestamp`` is on that clock. The actor
renders the frame for that time and hears the prompts the kiosk's screen shows
(:meth:`MockCamera.prompt`, wired through the lane), stamped with the same clock: so a session
is reproducible frame for frame, at any ``speed``. ``capture_delay_s`` is only how long a capture
takes on the (scaled) wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from hardware_mocks._base import MockDevice
from hardware_mocks.face_video.actors import Actor, StaticScene
from hardware_mocks.interfaces import Frame, RGBImage

WIDTH = 640
HEIGHT = 480


def empty_scene(colour: tuple[int, int, int] = (190, 190, 190)) -> RGBImage:
    frame = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


class MockCamera(MockDevice):
    kind = "camera"

    def __init__(
        self,
        device_id: str = "camera",
        *,
        speed: float = 1.0,
        seed: int = 0,
        capture_delay_s: float = 0.1,
        noise: int = 3,
        fps: float = 10.0,
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.capture_delay_s = capture_delay_s
        self.noise = noise
        self.fps = fps
        self._np_rng = np.random.default_rng(seed)
        self._actor: Actor = StaticScene(empty_scene())
        self._origin = time.monotonic()
        self.clock = 0.0
        """Camera seconds since the camera started (one frame period per capture)."""
        self.captures = 0
        self.prompts: list[tuple[float, str | None]] = []
        """(camera time, key) of each prompt the current actor was shown (for tests)."""
        self.on_capture: Callable[[], None] | None = None
        """Called once at the next capture (the mocks use it to make a traveller walk away)."""

    def show(self, scene: RGBImage | None) -> None:
        """A fixed picture in front of the camera from now on (None: nobody)."""
        self.present(None if scene is None else StaticScene(scene))

    def present(self, actor: Actor | None) -> None:
        """Who (or what) stands in front of the camera from now on (None: nobody)."""
        self._actor = StaticScene(empty_scene()) if actor is None else actor
        self.prompts = []

    def prompt(self, key: str | None) -> None:
        """The kiosk's screen shows guidance ``key``: the actor sees it from now on."""
        self.prompts.append((self.clock, key))
        self._actor.on_prompt(key, self.clock)

    async def capture(self) -> Frame:
        await self._check_fault()
        hook, self.on_capture = self.on_capture, None
        if hook is not None:
            hook()
        await self._delay(self.capture_delay_s)
        await self._check_fault()
        t = self.clock
        image = self._actor.frame(t)
        if self.noise:
            # Sensor noise, so consecutive frames differ like a live video.
            jitter = self._np_rng.integers(-self.noise, self.noise + 1, image.shape, dtype=np.int16)
            image = np.clip(image.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
        else:
            image = image.copy()
        self.captures += 1
        self.clock = t + 1.0 / self.fps
        return Frame(image=np.ascontiguousarray(image), timestamp=self._origin + t)

    async def capture_burst(self, count: int, interval: float) -> list[Frame]:
        frames: list[Frame] = []
        for i in range(count):
            if i:
                await asyncio.sleep(interval)  # the caller's real seconds
            frames.append(await self.capture())
        return frames
