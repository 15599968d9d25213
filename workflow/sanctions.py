"""Sanction catalogues, by track and regulation, with a severity order.

Severity is one global scale so that "imposed lighter than recommended" can be computed even when the
PPK imposes on another track than the one recommended (a moral statement instead of a discipline penalty).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sanction:
    code: str
    track: str  # "ethics", "discipline" or "non_asn"
    level: str  # "moral", "light", "medium", "heavy"
    severity: int  # higher is heavier, comparable across tracks
    name_id: str  # the Indonesian name, as written in decrees


def _catalogue(*sanctions: Sanction) -> dict[str, Sanction]:
    return {s.code: s for s in sanctions}


# PP 42/2004 Art. 15: moral sanctions.
ETHICS = _catalogue(
    Sanction("closed_statement", "ethics", "moral", 1, "pernyataan secara tertutup"),
    Sanction("public_statement", "ethics", "moral", 2, "pernyataan secara terbuka"),
)

# Light discipline penalties are the same in PP 53/2010 and PP 94/2021.
_LIGHT = (
    Sanction("oral_reprimand", "discipline", "light", 10, "teguran lisan"),
    Sanction("written_reprimand", "discipline", "light", 11, "teguran tertulis"),
    Sanction("written_dissatisfaction", "discipline", "light", 12, "pernyataan tidak puas secara tertulis"),
)

# PP 53/2010, for cases decided before PP 94/2021 took effect.
PP_53_2010 = _catalogue(
    *_LIGHT,
    Sanction("deferred_salary_rise_1y", "discipline", "medium", 20, "penundaan kenaikan gaji berkala 1 tahun"),
    Sanction("deferred_promotion_1y", "discipline", "medium", 21, "penundaan kenaikan pangkat 1 tahun"),
    Sanction("rank_lowered_1y", "discipline", "medium", 22, "penurunan pangkat setingkat lebih rendah 1 tahun"),
    Sanction("rank_lowered_3y", "discipline", "heavy", 30, "penurunan pangkat setingkat lebih rendah 3 tahun"),
    Sanction("transfer_lower_post", "discipline", "heavy", 31, "pemindahan dalam rangka penurunan jabatan"),
    Sanction("removal_from_post", "discipline", "heavy", 32, "pembebasan dari jabatan"),
    Sanction("honourable_dismissal", "discipline", "heavy", 33,
             "pemberhentian dengan hormat tidak atas permintaan sendiri"),
    Sanction("dishonourable_dismissal", "discipline", "heavy", 34, "pemberhentian tidak dengan hormat"),
)

# PP 94/2021, from 31 August 2021.
PP_94_2021 = _catalogue(
    *_LIGHT,
    Sanction("allowance_cut_6m", "discipline", "medium", 20, "pemotongan tunjangan kinerja 25% selama 6 bulan"),
    Sanction("allowance_cut_9m", "discipline", "medium", 21, "pemotongan tunjangan kinerja 25% selama 9 bulan"),
    Sanction("allowance_cut_12m", "discipline", "medium", 22, "pemotongan tunjangan kinerja 25% selama 12 bulan"),
    Sanction("demotion_12m", "discipline", "heavy", 30, "penurunan jabatan setingkat lebih rendah selama 12 bulan"),
    Sanction("removal_non_managerial_12m", "discipline", "heavy", 31,
             "pembebasan dari jabatan menjadi jabatan pelaksana selama 12 bulan"),
    Sanction("honourable_dismissal", "discipline", "heavy", 33,
             "pemberhentian dengan hormat tidak atas permintaan sendiri sebagai PNS"),
    Sanction("dishonourable_dismissal", "discipline", "heavy", 34, "pemberhentian tidak dengan hormat sebagai PNS"),
)

# SE MenPAN-RB 01/2023: non-ASN contract staff, tiered up to termination.
NON_ASN = _catalogue(
    Sanction("non_asn_oral_warning", "non_asn", "light", 10, "teguran lisan"),
    Sanction("non_asn_written_warning", "non_asn", "medium", 20, "teguran tertulis"),
    Sanction("contract_termination", "non_asn", "heavy", 33, "pemutusan hubungan kerja"),
)
