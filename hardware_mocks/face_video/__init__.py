"""Camera scenes for the face step: live people with 3D head turns, and presentation attacks."""

from hardware_mocks.face_video.actors import (
    ATTACK_KINDS,
    Actor,
    AttackKind,
    LiveActor,
    PhoneReplayActor,
    PrintedPhotoActor,
    StaticScene,
)
from hardware_mocks.face_video.head import HeadModel

__all__ = [
    "ATTACK_KINDS",
    "Actor",
    "AttackKind",
    "HeadModel",
    "LiveActor",
    "PhoneReplayActor",
    "PrintedPhotoActor",
    "StaticScene",
]
