"""The kiosk opens the chip with the printed MRZ, authenticates it, and sends the chip's DG1 as
the identity; the face is matched against the chip's DG2."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bordergate.contracts import Outcome
from hardware_mocks.chip import Attack, issue_chip, jpeg_from_rgb
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import NATIONALITIES, PopulationMix, Traveller, TravellerFactory
from kiosk.chip import read_chip
from kiosk.runner import SimulatedDocuments, simulated_documents
from kiosk.session import KioskSession
from kiosk.settings import KioskSettings
from tests.kiosk.conftest import FakeVerifier, RecordingBackend


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> SimulatedDocuments:
    return simulated_documents(tmp_path_factory.mktemp("master-list"))


async def clear(
    settings: KioskSettings,
    traveller: Traveller,
    documents: SimulatedDocuments,
    attack: Attack | None = None,
    master_list: bool = True,
) -> tuple[dict[str, object], FakeVerifier]:
    lane = MockLane(settings.lane_id, speed=settings.speed, seed=3, pki=documents.pki)
    lane.present(traveller)
    if attack is not None:
        photo = traveller.reference_photo()
        assert photo is not None
        chip = issue_chip(traveller.mrz_lines, jpeg_from_rgb(photo), documents.pki, attack=attack)
        lane.reader.present(traveller.mrz_lines, photo, chip)
    backend, verifier = RecordingBackend(), FakeVerifier()
    client = backend.client()
    session = KioskSession(
        settings, lane.devices, client, verifier,
        master_list=documents.master_list if master_list else None,
    )  # fmt: skip
    async with client:
        result = await session.run()
    assert result.outcome is Outcome.ADMIT  # what the recording backend answers
    [request] = backend.requests
    document: dict[str, object] = request["document"]
    return document, verifier


async def test_a_genuine_chip_is_authenticated_and_its_face_is_the_reference(
    settings: KioskSettings, factory: TravellerFactory, documents: SimulatedDocuments
) -> None:
    traveller = factory.next()
    document, verifier = await clear(settings, traveller, documents)
    assert document["chip_authenticated"] is True
    assert document["document_number"] == traveller.document_number
    [(_, reference_shape)] = verifier.calls
    photo = traveller.reference_photo()
    assert photo is not None
    assert reference_shape == photo.shape  # the DG2 face, decoded from the chip's JPEG


async def test_the_chip_identity_wins_over_the_printed_page(
    settings: KioskSettings, factory: TravellerFactory, documents: SimulatedDocuments
) -> None:
    traveller = factory.next()
    document, _ = await clear(settings, traveller, documents, Attack.DG1_DIFFERS_FROM_PAGE)
    assert document["chip_authenticated"] is False
    assert document["surname"] != traveller.surname.strip()  # the chip's (altered) name was sent


@pytest.mark.parametrize("attack", [Attack.DG2_ALTERED, Attack.UNKNOWN_CSCA, Attack.REVOKED_SIGNER])
async def test_an_inauthentic_chip_is_reported_as_such(
    settings: KioskSettings,
    factory: TravellerFactory,
    documents: SimulatedDocuments,
    attack: Attack,
) -> None:
    document, _ = await clear(settings, factory.next(), documents, attack)
    assert document["chip_authenticated"] is False


async def test_a_forged_page_cannot_open_the_chip_and_no_master_list_trusts_nothing(
    settings: KioskSettings, factory: TravellerFactory, documents: SimulatedDocuments
) -> None:
    traveller = factory.next()
    line2 = traveller.mrz_lines[1]
    digit = "0" if line2[9] != "0" else "1"  # the document number's check digit, forged
    forged = dataclasses.replace(
        traveller,
        mrz_lines=(traveller.mrz_lines[0], line2[:9] + digit + line2[10:]),
        chip_mrz_lines=traveller.mrz_lines,
    )
    document, _ = await clear(settings, forged, documents)
    assert document["chip_authenticated"] is None  # the backend refers: chip-unreadable
    document, _ = await clear(settings, traveller, documents, master_list=False)
    assert document["chip_authenticated"] is None


def test_chips_of_every_issuing_state_in_the_population_authenticate(
    documents: SimulatedDocuments, faces_dir: Path
) -> None:
    factory = TravellerFactory(seed=5, faces_dir=faces_dir, mix=PopulationMix(citizens=0.3))
    seen = set()
    for traveller in factory.generate(60):
        photo = traveller.reference_photo()
        assert photo is not None
        chip_mrz = traveller.chip_mrz_lines or traveller.mrz_lines
        chip = issue_chip(chip_mrz, jpeg_from_rgb(photo), documents.pki)
        reading = read_chip(chip, chip_mrz, documents.master_list, datetime.now(UTC))
        assert reading.authenticated, (traveller.nationality, reading.pa.reasons)
        seen.add(traveller.nationality)
    assert seen == set(NATIONALITIES)
