"""Mock camera: shows the presented scene (a traveller's face in a frame, or an empty scene)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from hardware_mocks._base import MockDevice
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
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        self.capture_delay_s = capture_delay_s
        self.noise = noise
        self._np_rng = np.random.default_rng(seed)
        self._scene: RGBImage = empty_scene()
        self.captures = 0
        self.on_capture: Callable[[], None] | None = None
        """Called once at the next capture (the mocks use it to make a traveller walk away)."""

    def show(self, scene: RGBImage | None) -> None:
        """What stands in front of the camera from now on (None: nobody)."""
        self._scene = empty_scene() if scene is None else scene

    async def capture(self) -> Frame:
        await self._check_fault()
        hook, self.on_capture = self.on_capture, None
        if hook is not None:
            hook()
        await self._delay(self.capture_delay_s)
        await self._check_fault()
        image = self._scene
        if self.noise:
            # Sensor noise, so consecutive frames differ like a live video.
            jitter = self._np_rng.integers(-self.noise, self.noise + 1, image.shape, dtype=np.int16)
            image = np.clip(image.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
        else:
            image = image.copy()
        self.captures += 1
        return Frame(image=np.ascontiguousarray(image), timestamp=time.monotonic())

    async def capture_burst(self, count: int, interval: float) -> list[Frame]:
        frames: list[Frame] = []
        for i in range(count):
            if i:
                await asyncio.sleep(interval)  # the caller's real seconds
            frames.append(await self.capture())
        return frames
