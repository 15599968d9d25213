"""A synthetic import file for the benchmarks: ~2,000 cases per unit of scale, the branch mix of 2020.

Deterministic (seeded); every row is valid, so `jejak import` accepts all of them. About 6.5 events per
case. Run alone to write a file: ``python bench/dataset.py OUT.csv [--scale 10]``.
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, datetime, timedelta

CASES_PER_SCALE = 2000

REGIONS = [  # (province, regency or city, agency prefix)
    ("prov-ntb", "kab-bima", "pemkab"), ("prov-ntb", "kab-lombok-timur", "pemkab"),
    ("prov-ntb", "kota-mataram", "pemkot"), ("prov-ntb", "kab-dompu", "pemkab"),
    ("prov-jatim", "kota-surabaya", "pemkot"), ("prov-jatim", "kab-sidoarjo", "pemkab"),
    ("prov-jatim", "kab-jember", "pemkab"), ("prov-jatim", "kab-banyuwangi", "pemkab"),
    ("prov-jateng", "kota-semarang", "pemkot"), ("prov-jateng", "kab-klaten", "pemkab"),
    ("prov-jateng", "kab-wonosobo", "pemkab"), ("prov-jabar", "kab-bandung", "pemkab"),
    ("prov-jabar", "kota-depok", "pemkot"), ("prov-jabar", "kab-cianjur", "pemkab"),
    ("prov-sulsel", "kota-makassar", "pemkot"), ("prov-sulsel", "kab-gowa", "pemkab"),
    ("prov-sulsel", "kab-wajo", "pemkab"), ("prov-sumut", "kota-medan", "pemkot"),
    ("prov-sumut", "kab-karo", "pemkab"), ("prov-diy", "kab-sleman", "pemkab"),
    ("prov-diy", "kab-bantul", "pemkab"), ("prov-kalsel", "kota-banjarmasin", "pemkot"),
    ("prov-sultra", "kab-konawe", "pemkab"), ("prov-sulteng", "kota-palu", "pemkot"),
]
FIRST = ["Ahmad", "Budi", "Siti", "Dewi", "Agus", "Rina", "Hendra", "Nur", "Wahyu", "Sri", "Andi", "Lalu", "Made",
         "Yusuf", "Fitri", "Dedi", "Rahmat", "Putri", "Eko", "Ayu"]
LAST = ["Santoso", "Wijaya", "Hidayat", "Rahayu", "Saputra", "Kurniawan", "Lestari", "Setiawan", "Pratama",
        "Susanti", "Hamdani", "Nugroho", "Siregar", "Harahap", "Sitompul", "Daeng", "Mappa"]
POSITIONS = [("administrator", "Camat"), ("administrator", "Kepala Bidang"), ("pengawas", "Kepala Seksi"),
             ("functional", "Guru"), ("functional", "Penyuluh Pertanian"), ("pelaksana", "Staf Kecamatan"),
             ("jpt", "Kepala Dinas"), ("non_asn", "Tenaga Honorer"), ("other", "Kepala Desa")]
CATEGORIES = ["social_media"] * 5 + ["partisan_activity"] * 2 + ["photo_with_candidate"] * 2 + [
    "declaration", "approaching_party", "other"]
PP53 = ["oral_reprimand", "written_reprimand", "written_dissatisfaction", "deferred_salary_rise_1y",
        "deferred_promotion_1y", "rank_lowered_1y"]
PP94 = ["oral_reprimand", "written_reprimand", "written_dissatisfaction", "allowance_cut_6m", "allowance_cut_9m",
        "demotion_12m"]
# branch -> weight (2020-like: most end before KASN or at a sanction; many sit with the PPK)
BRANCHES = {"not_registered": 10, "dismissed": 10, "under_review": 4, "not_proven": 10, "cancelled": 4,
            "sanctioned": 26, "overdue_path": 10, "recommended": 14, "departed": 5, "rejected_2024": 7}
COLUMNS = ["external_ref", "reported_at", "name", "nip", "position", "position_group", "agency", "province",
           "regency", "category", "election", "description", "event_date", "reporter_name", "reporter_contact",
           "review_begun_at", "not_registered_at", "registered_at", "dismissed_at", "forwarded_at",
           "examination_begun_at", "not_proven_at", "rejected_at", "recommended_at", "recommended_track",
           "recommended_sanction", "ppk_examination_begun_at", "overdue_at", "blocked_at", "escalated_at",
           "escalated_to", "unblocked_at", "sanctioned_at", "sanction", "decree_number", "cancelled_at",
           "departed_at", "departure_reason"]


def _day(d: date) -> str:
    return d.isoformat()


def make_row(rng: random.Random, index: int) -> dict:
    branch = rng.choices(list(BRANCHES), weights=list(BRANCHES.values()))[0]
    province, regency, prefix = rng.choice(REGIONS)
    group, position = rng.choice(POSITIONS)
    era_2024 = branch == "rejected_2024" or rng.random() < 0.15
    if era_2024:
        reported = datetime(2024, 9, 20) + timedelta(days=rng.randint(0, 50), hours=rng.randint(8, 16))
        election, catalogue = "pilkada-2024", PP94
    else:
        reported = datetime(2020, 7, 1) + timedelta(days=rng.randint(0, 120), hours=rng.randint(8, 16))
        election, catalogue = "pilkada-2020", PP53
    agency = f"{prefix}-{regency.split('-', 1)[1]}" if rng.random() < 0.85 else f"pemprov-{province[5:]}"
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    born = date(1965, 1, 1) + timedelta(days=rng.randint(0, 12000))
    nip = (f"{born:%Y%m%d}{born.year + 25}{rng.randint(1, 12):02d}{rng.randint(1, 2)}{rng.randint(1, 999):03d}"
           if group not in ("non_asn", "other") else "")
    finding = rng.random() < 0.15
    row = {"external_ref": f"BENCH-{index:07d}" if rng.random() < 0.7 else "",
           "reported_at": reported.strftime("%Y-%m-%dT%H:%M"), "name": name, "nip": nip, "position": position,
           "position_group": group, "agency": agency, "province": province, "regency": regency,
           "category": rng.choice(CATEGORIES), "election": election,
           "description": f"Kasus {index}: dugaan pelanggaran netralitas ASN", "event_date":
               _day((reported - timedelta(days=rng.randint(0, 5))).date()),
           "reporter_name": "" if finding else f"{rng.choice(FIRST)} {rng.choice(LAST)}",
           "reporter_contact": "" if finding else f"08{rng.randint(10**9, 10**10 - 1)}"}
    d = reported.date()

    def step(column: str, low: int = 1, high: int = 4) -> date:
        nonlocal d
        d = d + timedelta(days=rng.randint(low, high))
        row[column] = _day(d)
        return d

    step("review_begun_at", 0, 2)
    if branch == "not_registered":
        step("not_registered_at")
        return row
    if branch == "under_review":
        return row
    step("registered_at")
    if branch == "dismissed":
        step("dismissed_at", 1, 3)
        return row
    if branch == "cancelled":
        step("cancelled_at", 1, 5)
        return row
    step("forwarded_at", 1, 3)
    if branch == "rejected_2024":
        step("rejected_at", 1, 5)
        return row
    step("examination_begun_at", 1, 5)
    if branch == "not_proven":
        step("not_proven_at", 3, 20)
        return row
    track = "non_asn" if group == "non_asn" else "discipline" if rng.random() < 0.85 else "ethics"
    sanctions = {"non_asn": ["non_asn_oral_warning", "non_asn_written_warning", "contract_termination"],
                 "ethics": ["closed_statement", "public_statement"], "discipline": catalogue}[track]
    recommended = rng.choice(sanctions)
    rec = step("recommended_at", 3, 25)
    row.update(recommended_track=track, recommended_sanction=recommended)
    if branch == "recommended":
        return row
    if branch == "departed":
        step("departed_at", 5, 40)
        row["departure_reason"] = rng.choice(["left", "retired", "resigned"])
        return row
    if branch == "overdue_path":
        d = rec + timedelta(days=15 + rng.randint(0, 10))
        row["overdue_at"] = _day(d)
        step("blocked_at", 1, 10)
        step("escalated_at", 1, 10)
        row["escalated_to"] = rng.choice(["kemenpan-rb", "kemendagri", "president"])
    else:
        step("ppk_examination_begun_at", 1, 7)
    step("sanctioned_at", 1, 10)
    row.update(sanction=recommended if rng.random() < 0.7 else rng.choice(sanctions),
               decree_number=f"800/{index}/BKPSDM/{d.year}")
    if branch == "overdue_path":
        step("unblocked_at", 0, 3)
    return row


def write_csv(path, scale: float = 1.0, seed: int = 0, cases: int | None = None) -> int:
    """Write the file; returns the number of rows."""
    rng = random.Random(seed)
    count = cases if cases is not None else round(CASES_PER_SCALE * scale)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        for index in range(count):
            writer.writerow(make_row(rng, index))
    return count


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_csv(args.output, args.scale, args.seed), "rows")
