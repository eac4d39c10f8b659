"""Cruise group visa-free entry: the travel agencies' name lists (manifests) and their lookup.

Licensed Chinese travel agencies post the name list of each foreign tour group on a cruise ship
(``POST /v1/manifests``) before the ship arrives at the Tianjin cruise home port; the clearance
service asks :meth:`CruiseService.find_cruise_passenger` whether a traveller is on one, and gets
the :class:`~backend.policy.case.CruiseFacts` the policy engine decides on.

Choices:

* An unknown, expired, not-yet-valid or revoked agency licence is a **403**
  (``agency_not_licensed``): the body is well formed, the submitter is not entitled to submit it.
  Nothing is stored.
* ``(ship code, voyage, agency licence)`` identifies a manifest. The identical body posted again
  is a retry: **200** with the same ``manifest_id`` and version, header
  ``Idempotent-Replayed: true``. A changed body is an **amendment**: it replaces the members,
  keeps the ``manifest_id`` and increments ``version`` (**200**, ``status: amended``). A new
  manifest is **201**.
* The lead time (``BORDERGATE_CRUISE_MANIFEST_LEAD_TIME_H``, default 24 h per Shanghai's 2016
  rule): every new manifest or amendment must reach us at least that long before the ship's
  arrival, otherwise **422** ``manifest_too_late``. ``0`` (the demo) still requires the list
  before the ship arrives.
* A traveller on another agency's manifest for the same ship and voyage is a **409**.

Logs carry manifest ids, ship codes, voyages and counts; never document numbers or names.
"""

from backend.cruise.agencies import AgencyRegistry, AgencyStatus, load_agencies
from backend.cruise.service import CruiseService, open_cruise_service

__all__ = [
    "AgencyRegistry",
    "AgencyStatus",
    "CruiseService",
    "load_agencies",
    "open_cruise_service",
]
