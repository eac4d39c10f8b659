"""The visa registry and the records registry the clearance service consults.

* Visa registry: Chinese visas by (document number, nationality) with type, validity window and
  entries left. :meth:`Registries.find_visa` gives the visa most relevant on a day.
* Records registry: flags on a person (``barred``, ``visa-refusal``, ``violation-5y``), each with
  a date and a source note. :meth:`Registries.record_flags` gives the flags in force on a day.

``POST /v1/registry/visas`` and ``POST /v1/registry/records`` are the issuing authority's feed:
only its feed client (a ``registry`` feed token, ``bordergate feeds register``) may post. They
upsert on a natural key, so a feed may resend entries. :func:`load_seed` loads a
YAML or JSON file of entries for the demo (idempotent); ``BORDERGATE_REGISTRY_SEED_FILE`` makes
the backend load one at start.

Logs carry counts and statuses only, never document numbers or names.
"""

from backend.registries.service import Registries, SeedSummary, load_seed, open_registries

__all__ = ["Registries", "SeedSummary", "load_seed", "open_registries"]
