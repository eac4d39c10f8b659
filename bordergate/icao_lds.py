"""ICAO Doc 9303 part 10 structures that the chip (hardware_mocks) writes and the kiosk reads:
the LDS Security Object's ASN.1 schema and its content type. One definition for both sides."""

from __future__ import annotations

from asn1crypto import algos, core  # type: ignore[import-untyped]

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
"""id-icao-mrtd-security-ldsSecurityObject: the eContentType of EF.SOD's SignedData."""


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 (asn1crypto's schema declaration)
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LDSSecurityObject(core.Sequence):  # type: ignore[misc]
    """Doc 9303 part 10, section 4.6.2.2 (version 0: no ldsVersionInfo)."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LDSVersionInfo, {"optional": True}),
    ]
