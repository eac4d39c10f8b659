"""Locks around native libraries that are not safe to call from several threads at once.

face_recognition keeps its dlib models (HOG detector, landmark predictors, ResNet encoder) as
module globals, and dlib keeps per-call state in them: two threads using them at the same time
corrupt memory (the demo crashed with ``free(): invalid size`` and segfaults). The kiosk verifies
faces in worker threads while the camera mock builds head models in the event loop, so every
call into dlib in this process, by kiosk or mock, holds :data:`DLIB_LOCK`.
"""

from __future__ import annotations

import threading

DLIB_LOCK = threading.Lock()
