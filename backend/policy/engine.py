"""The policy engine: for one traveller arriving at a Tianjin port, admit (and until when) or refer.

The engine holds the validated rules (:mod:`backend.policy.ruleset`), loaded once at start; a
decision is a pure function of the case and those rules: no I/O, no clock.

How a case is decided
---------------------
1. Every country and place code is normalized first (:func:`bordergate.countries.normalize`); an
   unknown code raises :class:`~bordergate.countries.UnknownCountryError`, not a decision.
2. Chinese nationals (``CHN``): scheme ``citizen``, admitted with no limit. The one check is that
   the passport has not expired (an expired passport goes to an officer, ``document-expired``).
3. Everyone else: the exclusions (passport expired or valid less than the required months after
   the arrival date; record flags) apply whatever the scheme. Then the schemes the case can be
   tried under, in the order of preference ``visa``, ``cruise-15d``, transit:

   * ``visa`` when the case has a Chinese visa;
   * ``cruise-15d`` when it has cruise facts;
   * the transit scheme in force when it has journey facts, or when nothing else was tried (so a
     traveller with nothing gets ``journey-missing``).

   The first tried scheme whose every rule passed admits, if no exclusion failed. The transit
   scheme is the one whose period covers the arrival instant at this port (72 h, 144 h, 240 h
   at Tianjin); periods of one kind never overlap at a port (the loader checks).
4. On refer, ``scheme`` is the tried scheme that came closest: one that passed (when only an
   exclusion failed), else the one with the fewest failed rules, ties going to the preferred
   scheme. It is ``None`` only when no period of that kind exists in the rules at all. The
   reasons are every failed exclusion, then every failed rule of every tried scheme, each once,
   in that order; an admit has none.

Times: the arrival is converted to China Standard Time first; the stay begins at 00:00 CST the
day after and ends (exclusive) ``stay`` later; an onward flight or ship must leave strictly
before that instant. The arrival *date* (in CST) decides nationality join dates, visa validity
and passport validity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from backend.policy.case import (
    ChineseVisa,
    CruiseFacts,
    JourneyFacts,
    PolicyCase,
    PolicyDecision,
    Port,
    RecordFlag,
    SchemeName,
)
from backend.policy.clock import add_months, cst_date, to_cst
from backend.policy.ruleset import DEFAULT_RULES_DIR, RuleSet, SchemeKind, SchemePeriod, load_rules
from bordergate.contracts import ReasonCode
from bordergate.countries import CHINA, normalize

R = ReasonCode

RECORD_REASONS: dict[RecordFlag, ReasonCode] = {
    "barred": R.RECORD_BARRED,
    "visa-refusal": R.RECORD_VISA_REFUSAL,
    "violation-5y": R.RECORD_VIOLATION_5Y,
}

EXCLUSIONS = "exclusions"


@dataclass(frozen=True)
class RuleResult:
    """One rule checked for one scheme: for the officer console ("what was tried, and why")."""

    scheme: str  # a SchemeName, or "exclusions" for the rules every foreign scheme shares
    rule: str
    passed: bool
    detail: str
    reason: ReasonCode | None = None  # the reason code when the rule failed


@dataclass
class _Attempt:
    scheme: SchemeName | None
    results: list[RuleResult] = field(default_factory=list)
    permitted_until: datetime | None = None

    def check(self, rule: str, passed: bool, detail: str, reason: ReasonCode) -> None:
        name = self.scheme or "transit"
        self.results.append(RuleResult(name, rule, passed, detail, None if passed else reason))

    @property
    def failures(self) -> list[ReasonCode]:
        return [r.reason for r in self.results if r.reason is not None]


def _iso(at: datetime) -> str:
    return to_cst(at).isoformat()


@dataclass(frozen=True)
class _Codes:
    nationality: str
    arrived_from: str | None
    onward_to: str | None


class PolicyEngine:
    """Decides cases against one validated :class:`RuleSet`. Build it once with :meth:`load`."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules

    @classmethod
    def load(cls, rules_dir: Path = DEFAULT_RULES_DIR) -> PolicyEngine:
        """Read and validate the rule files; raises :class:`~backend.policy.ruleset.RulesError`."""
        return cls(load_rules(rules_dir))

    @property
    def rules(self) -> RuleSet:
        return self._rules

    def in_force(self, port: Port, at: datetime) -> list[SchemePeriod]:
        """The scheme periods in force at ``port`` at the instant ``at``, in preference order."""
        order = {"cruise": 0, "transit": 1}
        found = [p for p in self._rules.periods if p.in_force_at(port, at)]
        return sorted(found, key=lambda p: order[p.kind])

    def decide(self, case: PolicyCase) -> PolicyDecision:
        return self.decide_explained(case)[0]

    def decide_explained(self, case: PolicyCase) -> tuple[PolicyDecision, list[RuleResult]]:
        """The decision and every rule checked, in order (exclusions first, then each scheme)."""
        codes = _normalize_codes(case)
        if codes.nationality == CHINA:
            return self._citizen(case)

        exclusions = self._exclusions(case)
        attempts: list[_Attempt] = []
        if case.traveller.chinese_visa is not None:
            attempts.append(self._visa(case, case.traveller.chinese_visa))
        if case.cruise is not None:
            attempts.append(self._cruise(case, case.cruise, codes))
        if case.journey is not None or not attempts:
            attempts.append(self._transit(case, codes))

        results = exclusions + [r for a in attempts for r in a.results]
        excluded = [r.reason for r in exclusions if r.reason is not None]
        passing = next((a for a in attempts if not a.failures), None)
        if passing is not None and not excluded:
            admit = PolicyDecision(
                decision="admit",
                scheme=passing.scheme,
                permitted_until=passing.permitted_until,
                reasons=[],
            )
            return admit, results

        closest = passing or min(attempts, key=lambda a: (len(a.failures), attempts.index(a)))
        reasons = list(excluded)
        if passing is None:
            reasons += [r for a in attempts for r in a.failures]
        refer = PolicyDecision(
            decision="refer",
            scheme=closest.scheme,
            permitted_until=None,
            reasons=list(dict.fromkeys(reasons)),
        )
        return refer, results

    # Schemes ---------------------------------------------------------------------------------

    def _citizen(self, case: PolicyCase) -> tuple[PolicyDecision, list[RuleResult]]:
        day = cst_date(case.arrival)
        expiry = case.traveller.document_expiry
        attempt = _Attempt("citizen")
        attempt.check("nationality", True, "a Chinese national (CHN)", R.NO_SCHEME)
        attempt.check(
            "document-not-expired",
            expiry >= day,
            f"passport expiry {expiry} on or after the arrival date {day}",
            R.DOCUMENT_EXPIRED,
        )
        if attempt.failures:
            refer = PolicyDecision(
                decision="refer", scheme="citizen", permitted_until=None, reasons=attempt.failures
            )
            return refer, attempt.results
        admit = PolicyDecision(decision="admit", scheme="citizen", permitted_until=None, reasons=[])
        return admit, attempt.results

    def _exclusions(self, case: PolicyCase) -> list[RuleResult]:
        rules = self._rules.exclusions
        day = cst_date(case.arrival)
        expiry = case.traveller.document_expiry
        results: list[RuleResult] = []

        def check(rule: str, passed: bool, detail: str, reason: ReasonCode) -> None:
            results.append(RuleResult(EXCLUSIONS, rule, passed, detail, None if passed else reason))

        expired = expiry < day
        check(
            "document-not-expired",
            not expired,
            f"passport expiry {expiry} on or after the arrival date {day}",
            R.DOCUMENT_EXPIRED,
        )
        if not expired:
            needed = add_months(day, rules.min_document_validity_months)
            check(
                "document-validity",
                expiry >= needed,
                f"passport expiry {expiry} on or after {needed} "
                f"({rules.min_document_validity_months} months after the arrival date)",
                R.DOCUMENT_VALIDITY_SHORT,
            )
        for flag in rules.excluded_records:
            check(
                f"record-{flag}",
                flag not in case.traveller.record,
                f"no '{flag}' record",
                RECORD_REASONS[flag],
            )
        return results

    def _visa(self, case: PolicyCase, visa: ChineseVisa) -> _Attempt:
        day = cst_date(case.arrival)
        attempt = _Attempt("visa")
        attempt.check(
            "visa-valid",
            visa.valid_from <= day <= visa.valid_until,
            f"arrival date {day} within the visa's validity {visa.valid_from}..{visa.valid_until}",
            R.VISA_NOT_VALID,
        )
        attempt.check(
            "visa-entries-left",
            visa.entries_left >= 1,
            f"{visa.entries_left} entries left (at least 1 needed)",
            R.VISA_NO_ENTRIES,
        )
        return attempt

    def _period(
        self, kind: SchemeKind, port: Port, at: datetime
    ) -> tuple[SchemePeriod | None, bool]:
        """The period of ``kind`` to judge the case by, and whether it is in force at ``port``.

        In force at the port; else in force at another port (the port rule fails); else not in
        force at all: then the period nearest in time is named but its rules are not applied
        (returned as ``None`` with its scheme reported by :meth:`_nearest`).
        """
        periods = [p for p in self._rules.periods if p.kind == kind and p.in_force(at)]
        here = [p for p in periods if port in p.ports]
        if here:
            return here[0], True
        if periods:
            return max(periods, key=lambda p: p.stay.duration), False
        return None, False

    def _nearest(self, kind: SchemeKind, at: datetime) -> SchemeName | None:
        periods = [p for p in self._rules.periods if p.kind == kind]
        if not periods:
            return None
        later = [p for p in periods if p.starts_at > to_cst(at)]
        return min(later, key=lambda p: p.valid_from).scheme if later else periods[-1].scheme

    def _scheme_rules(
        self,
        attempt: _Attempt,
        period: SchemePeriod | None,
        at_port: bool,
        case: PolicyCase,
        codes: _Codes,
    ) -> None:
        """The rules every visa-free scheme has: in force, port, nationality, document type."""
        at = case.arrival
        if period is None:
            attempt.check(
                "scheme-in-force",
                False,
                f"no {attempt.scheme or 'transit'} period in force at {_iso(at)}",
                R.SCHEME_NOT_IN_FORCE,
            )
            return
        span = f"{period.valid_from}..{period.valid_until or 'open'}"
        attempt.check(
            "scheme-in-force",
            True,
            f"{period.scheme} in force {span} ({self._rules.file_of(period)})",
            R.SCHEME_NOT_IN_FORCE,
        )
        attempt.check(
            "port-designated",
            at_port,
            f"port {case.port} among {', '.join(period.ports)}",
            R.PORT_NOT_DESIGNATED,
        )
        attempt.check(
            "nationality-eligible",
            self._rules.nationality_eligible(period, codes.nationality, at),
            f"nationality {codes.nationality} eligible ({period.nationalities}) on {cst_date(at)}",
            R.NATIONALITY_NOT_ELIGIBLE,
        )
        attempt.check(
            "document-type",
            period.accepts_document(case.traveller.document_type),
            f"document type {case.traveller.document_type!r} starts with "
            f"{period.document_type_prefix!r}, not one of {period.excluded_document_types}",
            R.DOCUMENT_TYPE_NOT_ACCEPTED,
        )

    def _transit(self, case: PolicyCase, codes: _Codes) -> _Attempt:
        at = case.arrival
        period, at_port = self._period("transit", case.port, at)
        attempt = _Attempt(period.scheme if period else self._nearest("transit", at))
        self._scheme_rules(attempt, period, at_port, case, codes)
        journey = case.journey
        attempt.check(
            "journey-present",
            journey is not None,
            "an onward journey (ticket) was presented",
            R.JOURNEY_MISSING,
        )
        if journey is None:
            return attempt
        _route_rules(attempt, journey, codes, at)
        if period is not None:
            until = period.permitted_until(at)
            attempt.permitted_until = until
            attempt.check(
                "onward-within-stay",
                journey.onward_departure < until,
                f"onward departure {_iso(journey.onward_departure)} before {_iso(until)} "
                f"({period.stay.label} from 00:00 after the arrival day)",
                R.ONWARD_AFTER_LIMIT,
            )
        return attempt

    def _cruise(self, case: PolicyCase, cruise: CruiseFacts, codes: _Codes) -> _Attempt:
        at = case.arrival
        period, at_port = self._period("cruise", case.port, at)
        attempt = _Attempt(period.scheme if period else self._nearest("cruise", at))
        self._scheme_rules(attempt, period, at_port, case, codes)
        attempt.check(
            "on-manifest",
            cruise.on_manifest,
            f"on the group's name list for {cruise.ship}",
            R.CRUISE_NOT_ON_MANIFEST,
        )
        attempt.check(
            "agency-licensed",
            cruise.agency_licensed,
            f"agency {cruise.agency_licence} licensed",
            R.CRUISE_AGENCY_UNLICENSED,
        )
        minimum = period.min_group_size if period and period.min_group_size else 2
        attempt.check(
            "group-size",
            cruise.group_size >= minimum,
            f"group of {cruise.group_size} (at least {minimum})",
            R.CRUISE_GROUP_TOO_SMALL,
        )
        attempt.check(
            "leaves-with-ship",
            cruise.leaves_with_ship,
            f"leaves China on {cruise.ship}",
            R.CRUISE_NOT_LEAVING_WITH_SHIP,
        )
        attempt.check(
            "ship-departs-after-arrival",
            cruise.ship_departs >= at,
            f"ship departs {_iso(cruise.ship_departs)}, not before arrival {_iso(at)}",
            R.ONWARD_BEFORE_ARRIVAL,
        )
        if period is not None:
            until = period.permitted_until(at)
            attempt.permitted_until = until
            attempt.check(
                "ship-departs-within-stay",
                cruise.ship_departs < until,
                f"ship departs {_iso(cruise.ship_departs)} before {_iso(until)}",
                R.CRUISE_DEPARTS_AFTER_LIMIT,
            )
        return attempt


def _route_rules(attempt: _Attempt, journey: JourneyFacts, codes: _Codes, at: datetime) -> None:
    """Country or region A, then mainland China, then a different country or region C."""
    came, goes = codes.arrived_from, codes.onward_to
    attempt.check(
        "onward-confirmed",
        journey.onward_confirmed,
        "onward ticket with a confirmed date and seat",
        R.ONWARD_NOT_CONFIRMED,
    )
    attempt.check(
        "arrived-from-abroad",
        came != CHINA,
        f"arrived from {came}, not mainland China",
        R.ROUTE_FROM_MAINLAND,
    )
    attempt.check(
        "onward-abroad",
        goes != CHINA,
        f"onward to {goes}, not mainland China",
        R.ONWARD_TO_MAINLAND,
    )
    attempt.check(
        "route-third-country",
        came != goes,
        f"onward to {goes} differs from {came} (HKG, MAC and TWN are regions of their own)",
        R.ROUTE_ROUND_TRIP,
    )
    attempt.check(
        "onward-after-arrival",
        journey.onward_departure >= at,
        f"onward departure {_iso(journey.onward_departure)} not before arrival {_iso(at)}",
        R.ONWARD_BEFORE_ARRIVAL,
    )


def _normalize_codes(case: PolicyCase) -> _Codes:
    journey = case.journey
    return _Codes(
        nationality=normalize(case.traveller.nationality),
        arrived_from=normalize(journey.arrived_from) if journey else None,
        onward_to=normalize(journey.onward_to) if journey else None,
    )
