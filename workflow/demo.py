"""`jejak demo`: a synthetic but realistic dataset, driven through the real commands.

Every case is filed with ``Jejak.new_case`` and moved with ``Jejak.apply_trigger``, so every rule, actor and
field check of the engine applies; cases are saved many per transaction (``Jejak.record_cases``) for speed.
Nothing is inserted behind the engine's back.

How a dataset is made (``generate``):

1. *Plan.* Each case gets a life: who reports it, where, about whom, and its path through the workflow with
   an ``occurred_at`` for every step. The times of the three milestones that were published for the 2020
   regional elections (reported, recommended by KASN, followed up by the PPK) are drawn from the published
   cumulative curve (stratified inverse sampling), then matched to cases: each case wishes for a lag drawn
   from the PPK's own slowness, and the earliest wish among the cases already eligible takes the next
   milestone time. So the curve is met by construction and slow PPKs are really slow. The steps in between
   (review, registration, forwarding...) are spread between the milestones in office hours; deadlines are
   computed with the store's own settings and a ``system`` tick records ``mark_overdue`` whenever one passes.
2. *Stamp.* Each step is recorded (the event's ``timestamp``) a few minutes or hours after it happened; a
   few percent are entered weeks late (backdated entries), as happens when paper files are keyed in later.
3. *Replay.* All steps of all cases are applied in the order they were recorded, with the application's
   clock set to each step's recorded time, and saved in batches.

Same seed, same data: one ``random.Random`` per election, seeded from the seed; case ids derive from
``external_ref`` ("demo-pilkada-2020-000123"). ``scale`` multiplies the number of cases.
"""

from __future__ import annotations

import heapq
import math
import random
import sys
import time as timer
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from statistics import median
from typing import Any
from uuid import UUID, uuid5

from workflow import codes
from workflow.application import EXTERNAL_REF_NAMESPACE, Jejak
from workflow.definitions import STAGE_OF_STATE, Era, get_era
from workflow.errors import CaseNotFound, InvalidField

WIB = timezone(timedelta(hours=7), "WIB")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

# --- published figures --------------------------------------------------------------------------------------
# Source: the published figures collected in the project's DOMAIN.md (KASN statements on the 2020 regional
# elections, KASN's 2020–2022 recapitulation, BKN's statement of 4 December 2024), as quoted in issue 4.

# Regional elections (pilkada) 2020: cumulative reported / recommended by KASN / followed up by the PPK.
PUBLISHED_2020_CURVE = [
    (date(2020, 6, 26), 369, 283, 99),
    (date(2020, 7, 31), 456, 344, 189),
    (date(2020, 8, 19), 490, 372, 194),
    (date(2020, 9, 30), 694, 492, 256),
    (date(2020, 10, 13), 732, 518, 273),
    (date(2020, 11, 5), 827, 606, 362),  # 72 cases had personnel data blocked
    (date(2020, 11, 26), 1005, 727, 580),  # 147 not acted on: 121 in process, 26 blocked; 8 unblocked
]
PUBLISHED_2020_FINAL = {"reported": 2034, "recommended": 1596, "followed_up": 1413,
                        "recommended_rate": 0.785, "followed_up_rate": 0.885}
PUBLISHED_2020_BLOCKED = {date(2020, 11, 5): 72, date(2020, 11, 26): 26}
PUBLISHED_2020_UNFOLLOWED = (date(2020, 10, 26), 131, 67)  # 131 recommendations unfollowed at 67 governments
PUBLISHED_2020_SLOW_CASE = date(2020, 4, 15)  # a recommendation still unexecuted six months later

# Shares of violation types and position groups, 2020–2022 (the rest: "other", and other/non-ASN staff).
PUBLISHED_CATEGORY_SHARES = {"social_media": 0.304, "partisan_activity": 0.224, "photo_with_candidate": 0.126,
                             "declaration": 0.109, "approaching_party": 0.056}
PUBLISHED_POSITION_SHARES = {"functional": 0.265, "pelaksana": 0.172, "jpt": 0.157, "administrator": 0.134,
                             "pengawas": 0.118}

# 2020 hotspots. The source gives no date; the counts only fit a total of a few hundred reports, so they are
# taken as weights out of the 694 reports of 30 Sep 2020 (see REGIONS_2020).
PUBLISHED_2020_PROVINCES = {"prov-sultra": 90, "prov-ntb": 83, "prov-jateng": 74, "prov-sulsel": 49,
                            "prov-jatim": 42}
PUBLISHED_2020_REGENCIES = {"kab-purbalingga": 56, "kab-wakatobi": 34, "kab-kediri": 21,
                            "kab-musi-rawas-utara": 19, "kab-sumbawa": 18}

# Regional elections 2024, BKN era, as of 4 Dec 2024: 1,158 complaints. The published parts add up to 1,237,
# not 1,158; we keep the total and scale the parts.
PUBLISHED_2024_TOTAL = 1158
PUBLISHED_2024_AS_OF = date(2024, 12, 4)
PUBLISHED_2024_PARTS = {"awaiting_bkn": 667, "awaiting_ppk": 436, "sanctioned": 19, "not_proven": 24,
                        "cancelled": 27, "rejected": 60, "departed": 4}

# --- calibration knots (published points plus our assumptions in between) -------------------------------
# (end of day, cumulative count) on the 2,034-case scale. Before 26 Jun and after 26 Nov 2020 the shape is
# ours: a slow start, a lull while the elections were postponed (COVID-19), a surge around voting day (9 Dec)
# and the follow-up running on into 2021.
_D = date.fromisoformat
CURVE_2020 = {
    "report": [(_D("2020-01-06"), 0), (_D("2020-03-15"), 190), (_D("2020-05-31"), 300), (_D("2020-06-26"), 369),
               (_D("2020-07-31"), 456), (_D("2020-08-19"), 490), (_D("2020-09-30"), 694),
               (_D("2020-10-13"), 732), (_D("2020-11-05"), 827), (_D("2020-11-26"), 1005),
               (_D("2020-12-09"), 1560), (_D("2020-12-31"), 2034)],
    "recommend": [(_D("2020-01-20"), 0), (_D("2020-03-31"), 140), (_D("2020-06-26"), 283),
                  (_D("2020-07-31"), 344), (_D("2020-08-19"), 372), (_D("2020-09-30"), 492),
                  (_D("2020-10-13"), 518), (_D("2020-11-05"), 606), (_D("2020-11-26"), 727),
                  (_D("2020-12-31"), 1150), (_D("2021-01-31"), 1450), (_D("2021-03-31"), 1596)],
    "impose_sanction": [(_D("2020-02-10"), 0), (_D("2020-04-30"), 40), (_D("2020-06-26"), 99),
                        (_D("2020-07-31"), 189), (_D("2020-08-19"), 194), (_D("2020-09-30"), 256),
                        (_D("2020-10-13"), 273), (_D("2020-11-05"), 362), (_D("2020-11-26"), 580),
                        (_D("2020-12-31"), 760), (_D("2021-01-31"), 900), (_D("2021-03-31"), 1150),
                        (_D("2021-06-30"), 1360), (_D("2021-09-30"), 1413)],
}
HORIZON_2020 = datetime(2021, 9, 30, 17, 0, tzinfo=WIB)
BLOCKING_FROM = datetime(2020, 9, 14, 9, 0, tzinfo=WIB)  # SKB 2020 (10 Sep) introduced BKN's blocking
# 2024: reports from the start of the BKN era, rising through the campaign (25 Sep–23 Nov) to voting (27 Nov).
CURVE_2024_REPORTS = [(_D("2024-09-02"), 0.0), (_D("2024-09-24"), 0.10), (_D("2024-10-31"), 0.45),
                      (_D("2024-11-23"), 0.78), (_D("2024-11-28"), 0.92), (_D("2024-12-03"), 1.0)]
AS_OF_2024 = datetime(2024, 12, 4, 17, 0, tzinfo=WIB)

# Regions: province -> {regency/city: weight}. 2020 weights are reports out of 694 (30 Sep 2020) and
# reproduce the published hotspots; elsewhere they are ours, kept below the hotspots.
REGIONS_2020: dict[str, dict[str, int]] = {
    "prov-sultra": {"kab-wakatobi": 34, "kab-buton-utara": 11, "kab-konawe-selatan": 10, "kab-konawe-utara": 10,
                    "kab-kolaka-timur": 9, "kab-konawe-kepulauan": 8, "kab-muna": 8},
    "prov-ntb": {"kab-sumbawa": 18, "kota-mataram": 14, "kab-lombok-tengah": 13, "kab-lombok-utara": 10,
                 "kab-sumbawa-barat": 10, "kab-dompu": 9, "kab-bima": 9},
    "prov-jateng": {"kab-purbalingga": 56, "kab-kebumen": 3, "kab-wonosobo": 2, "kab-semarang": 2,
                    "kab-sukoharjo": 2, "kab-klaten": 2, "kab-blora": 2, "kab-rembang": 2, "kota-semarang": 2,
                    "kota-surakarta": 1},
    "prov-sulsel": {"kab-gowa": 6, "kab-maros": 5, "kab-bulukumba": 5, "kab-pangkajene-kepulauan": 4,
                    "kab-barru": 4, "kab-soppeng": 4, "kab-kepulauan-selayar": 4, "kab-luwu-utara": 4,
                    "kab-luwu-timur": 4, "kab-tana-toraja": 3, "kab-toraja-utara": 3, "kota-makassar": 3},
    "prov-jatim": {"kab-kediri": 21, "kab-lamongan": 3, "kab-jember": 3, "kab-sumenep": 2, "kab-banyuwangi": 2,
                   "kab-tuban": 2, "kab-malang": 2, "kab-ngawi": 2, "kota-surabaya": 2, "kab-gresik": 2,
                   "kota-blitar": 1},
    "prov-sumsel": {"kab-musi-rawas-utara": 19, "kab-ogan-ilir": 4, "kab-ogan-komering-ulu": 3,
                    "kab-ogan-komering-ulu-selatan": 3, "kab-penukal-abab-lematang-ilir": 3, "kab-musi-rawas": 3},
    "prov-sulut": {"kab-minahasa-utara": 6, "kota-manado": 6, "kab-bolaang-mongondow-selatan": 5,
                   "kota-bitung": 5, "kota-tomohon": 4},
    "prov-sulteng": {"kab-banggai": 7, "kab-poso": 6, "kab-tojo-una-una": 5, "kota-palu": 4, "kab-sigi": 2},
    "prov-kalsel": {"kab-banjar": 6, "kota-banjarmasin": 6, "kab-kotabaru": 5, "kab-tanah-bumbu": 5},
    "prov-kalteng": {"kab-kotawaringin-timur": 7, "kab-katingan": 7, "kab-seruyan": 6},
    "prov-sumbar": {"kab-agam": 4, "kab-pasaman": 4, "kab-solok": 4, "kota-bukittinggi": 4,
                    "kab-padang-pariaman": 4},
    "prov-sumut": {"kab-labuhanbatu": 4, "kab-asahan": 4, "kota-medan": 4, "kab-serdang-bedagai": 3,
                   "kab-nias-selatan": 3},
    "prov-jambi": {"kab-batang-hari": 5, "kab-tanjung-jabung-timur": 5, "kab-bungo": 6},
    "prov-bengkulu": {"kab-kaur": 4, "kab-seluma": 4, "kab-rejang-lebong": 4, "kota-bengkulu": 4},
    "prov-jabar": {"kab-bandung": 4, "kab-cianjur": 4, "kab-indramayu": 4, "kab-karawang": 4},
    "prov-ntt": {"kab-manggarai-barat": 4, "kab-sumba-timur": 4, "kab-belu": 3, "kab-malaka": 3},
    "prov-kepri": {"kota-batam": 5, "kab-bintan": 5},
    "prov-kaltara": {"kab-bulungan": 4, "kab-malinau": 3, "kab-nunukan": 3},
    "prov-banten": {"kota-tangerang-selatan": 5, "kab-pandeglang": 5},
    "prov-riau": {"kab-kuantan-singingi": 4, "kab-rokan-hulu": 3, "kab-bengkalis": 3},
    "prov-lampung": {"kota-bandar-lampung": 4, "kab-lampung-selatan": 3, "kab-way-kanan": 3},
    "prov-kaltim": {"kota-samarinda": 4, "kab-kutai-kartanegara": 3, "kota-balikpapan": 3},
    "prov-malut": {"kab-halmahera-utara": 4, "kota-ternate": 3, "kab-kepulauan-sula": 3},
    "prov-kalbar": {"kab-sambas": 3, "kab-sintang": 3, "kab-ketapang": 2},
    "prov-maluku": {"kab-seram-bagian-timur": 4, "kab-buru-selatan": 4},
    "prov-gorontalo": {"kab-bone-bolango": 4, "kab-pohuwato": 4},
    "prov-babel": {"kab-bangka-tengah": 3, "kab-belitung-timur": 3},
    "prov-bali": {"kab-badung": 2, "kab-karangasem": 2, "kab-jembrana": 2},
    "prov-sulbar": {"kab-mamuju": 3, "kab-majene": 3},
    "prov-papua": {"kab-merauke": 3, "kab-nabire": 3},
    "prov-diy": {"kab-sleman": 2, "kab-bantul": 2, "kab-gunungkidul": 2},
    "prov-papua-barat": {"kab-manokwari-selatan": 3, "kab-teluk-wondama": 2},
}

# Position titles by position group (the group shares are published; the titles are typical examples).
POSITIONS = {
    "functional": ["Guru Ahli Pertama", "Guru Ahli Muda", "Penyuluh Pertanian Ahli Pertama", "Perawat Ahli Muda",
                   "Bidan Terampil", "Dokter Ahli Pertama", "Analis Kebijakan Ahli Muda",
                   "Pranata Komputer Ahli Pertama"],
    "pelaksana": ["Pengadministrasi Umum", "Pengelola Keuangan", "Operator Layanan Operasional",
                  "Penata Layanan Operasional", "Pengelola Data"],
    "jpt": ["Sekretaris Daerah", "Kepala Dinas Pendidikan", "Kepala Dinas Kesehatan",
            "Kepala Dinas Pekerjaan Umum", "Kepala BKPSDM", "Asisten Pemerintahan", "Kepala Dinas Sosial"],
    "administrator": ["Camat", "Kepala Bagian Umum", "Sekretaris Dinas", "Kepala Bidang Pembinaan",
                      "Kepala Bagian Pemerintahan"],
    "pengawas": ["Kepala Seksi Pemerintahan", "Kepala Subbagian Keuangan", "Lurah", "Sekretaris Kelurahan",
                 "Kepala Seksi Kesejahteraan Sosial"],
    "other": ["PPPK Guru", "CPNS Analis", "PPPK Tenaga Kesehatan"],
    "non_asn": ["Tenaga Honorer", "Tenaga Harian Lepas", "Tenaga Kontrak"],
}
POSITION_SHARES = {**PUBLISHED_POSITION_SHARES, "other": 0.094, "non_asn": 0.060}
CATEGORY_SHARES = {**PUBLISHED_CATEGORY_SHARES, "other": 1 - sum(PUBLISHED_CATEGORY_SHARES.values())}

INCIDENTS = {
    "social_media": (["Membagikan unggahan kampanye pasangan calon di Facebook",
                      "Menyukai dan mengomentari unggahan bakal calon di Instagram",
                      "Mengunggah ajakan memilih pasangan calon di grup WhatsApp",
                      "Mengganti foto profil dengan foto pasangan calon"],
                     ["tangkapan layar unggahan", "tautan unggahan", "tangkapan layar percakapan"]),
    "partisan_activity": (["Hadir dan memberi sambutan dalam kampanye pasangan calon",
                           "Menjadi anggota tim pemenangan pasangan calon",
                           "Mengerahkan bawahan menghadiri kampanye", "Membagikan bahan kampanye kepada warga"],
                          ["foto kegiatan", "video kegiatan", "surat undangan"]),
    "photo_with_candidate": (["Berfoto bersama pasangan calon dengan simbol jari dukungan",
                              "Berfoto bersama bakal calon saat acara partai"],
                             ["foto", "tangkapan layar unggahan"]),
    "declaration": (["Mendeklarasikan diri sebagai bakal calon kepala daerah",
                     "Ikut deklarasi dukungan kepada bakal calon"], ["video deklarasi", "berita media daring"]),
    "approaching_party": (["Mendaftar penjaringan bakal calon di partai politik",
                           "Menghadiri rapat pengurus partai politik"], ["formulir pendaftaran", "foto kegiatan"]),
    "other": (["Membuat keputusan yang menguntungkan pasangan calon",
               "Menggunakan fasilitas dinas untuk kegiatan pasangan calon",
               "Memasang alat peraga kampanye di kantor"], ["foto", "dokumen keputusan"]),
}
FIRST_NAMES = ["Agus", "Budi", "Siti", "Dewi", "Andi", "Rahmat", "Sri", "Wahyu", "Nur", "Eko", "Fitri", "Hendra",
               "Yusuf", "Ratna", "Made", "Ketut", "La Ode", "Wa Ode", "Muhammad", "Ahmad", "Rina", "Darmawan",
               "Lestari", "Irwan", "Hasanuddin", "Yohanes", "Maria", "Abdul", "Fransiska", "Rusdi"]
LAST_NAMES = ["Santoso", "Wijaya", "Hidayat", "Saputra", "Rahman", "Siregar", "Nasution", "Lubis", "Pratama",
              "Susanto", "Hasibuan", "Mokodompit", "Pakpahan", "Latief", "Sulaiman", "Kurniawan", "Hamzah",
              "Baharuddin", "Tamrin", "Manurung", "Setiawan", "Arifin", "Syamsuddin", "Tanjung"]

# What a commission recommends (code: weight), by era catalogue and track.
RECOMMENDATIONS = {
    "skb-2020": {"public_statement": 22, "closed_statement": 18, "oral_reprimand": 5, "written_reprimand": 10,
                 "written_dissatisfaction": 10, "deferred_salary_rise_1y": 12, "deferred_promotion_1y": 9,
                 "rank_lowered_1y": 6, "rank_lowered_3y": 4, "transfer_lower_post": 2, "removal_from_post": 2},
    "bkn-2024": {"public_statement": 20, "closed_statement": 15, "oral_reprimand": 5, "written_reprimand": 12,
                 "written_dissatisfaction": 10, "allowance_cut_6m": 12, "allowance_cut_9m": 8,
                 "allowance_cut_12m": 6, "demotion_12m": 5, "removal_non_managerial_12m": 4,
                 "honourable_dismissal": 2, "dishonourable_dismissal": 1},
    "non_asn": {"non_asn_oral_warning": 40, "non_asn_written_warning": 45, "contract_termination": 15},
}
LIGHTER_SANCTION_RATE = 0.18
BACKDATED_RATE = 0.02  # of the steps that are keyed in by hand from a paper file
BATCH_EVENTS = 400


class DemoPresent(InvalidField):
    """The store already holds all of an election's demo data."""

    def __init__(self, election: str):
        super().__init__("election", f"the store already holds the {election} demo data")


@dataclass(frozen=True)
class ElectionSpec:
    name: str
    era: str
    kind: str
    year: int


ELECTIONS = {
    "pilkada-2020": ElectionSpec("pilkada-2020", "skb-2020", "pilkada", 2020),
    "pilkada-2024": ElectionSpec("pilkada-2024", "bkn-2024", "pilkada", 2024),
}


class DemoClock:
    """The recording clock of a simulation: returns whatever time the generator set last."""

    def __init__(self, now: datetime | None = None):
        self.now = now

    def __call__(self) -> datetime:
        return self.now or datetime.now(timezone.utc)


def demo_ref(election: str, index: int) -> str:
    return f"demo-{election}-{index:06d}"


def demo_case_id(election: str, index: int) -> UUID:
    return uuid5(EXTERNAL_REF_NAMESPACE, demo_ref(election, index))


def has_demo_data(app: Jejak, election: str) -> bool:
    """Whether the store already holds this election's demo cases (they all share deterministic ids)."""
    try:
        app.get_case(demo_case_id(election, 0))
    except CaseNotFound:
        return False
    return True


# --- the plan of one case -------------------------------------------------------------------------------------

@dataclass
class Step:
    trigger: str
    actor: str
    at: datetime  # occurred_at
    fields: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    recorded: datetime | None = None


def _destinations(era: Era) -> dict[tuple[str, str], str]:
    table = {}
    for row in era.transitions:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        for source in sources:
            table[(row["trigger"], source)] = row["dest"] or source
    return table


class CasePlan:
    """A case's life as steps, tracking state and deadlines the way the engine will, so the `system` tick
    can be placed where a deadline passes. The engine re-checks every step when the plan is replayed."""

    def __init__(self, sim: _Simulation, index: int, actor: str, at: datetime, fields: dict[str, Any]):
        self.sim, self.index = sim, index
        self.ref = fields["external_ref"]
        self.agency, self.province, self.regency = fields["agency"], fields["province"], fields["regency"]
        self.steps = [Step("report", actor, at, fields)]
        self.state = "reported"
        self.deadline: str | None = None
        self.due: datetime | None = None
        self.tick: datetime | None = None  # when the system clock notices the deadline passed
        self.missed = False
        self.blocked = False
        self.fate = ""
        self.public = actor == "reporter"
        self.recommended_sanction: str | None = None

    @property
    def last(self) -> datetime:
        return self.steps[-1].at

    def at(self, trigger: str) -> datetime | None:
        return next((s.at for s in self.steps if s.trigger == trigger), None)

    def catch_up(self, until: datetime) -> None:
        if self.due is not None and not self.missed and self.tick <= until:
            self._append("mark_overdue", "system", self.tick, {},
                         f"deadline {self.deadline} was due {self.due.isoformat()}")

    def step(self, trigger: str, actor: str, at: datetime, note: str | None = None, **fields: Any) -> None:
        at = max(at, self.last)
        self.catch_up(at)
        self._append(trigger, actor, max(at, self.last), fields, note)

    def _append(self, trigger: str, actor: str, at: datetime, fields: dict, note: str | None) -> None:
        dest = self.sim.dest.get((trigger, self.state))
        if dest is None:
            raise AssertionError(f"demo planner bug: {trigger} from {self.state} ({self.ref})")
        stage = STAGE_OF_STATE.get(dest)
        if stage != STAGE_OF_STATE.get(self.state):
            self.deadline = self.due = self.tick = None
            self.missed = False
            if stage is not None:
                name = f"{stage}.{self.sim.spec.kind}" if stage == "bawaslu_handling" else stage
                deadline = self.sim.settings.deadline(self.sim.era, name)
                due = self.sim.settings.due_at(at, deadline) if deadline else None
                if due is not None:
                    self.deadline, self.due = name, due
                    self.tick = due + timedelta(minutes=60 + self.sim.rng.randrange(60))
        self.state = dest
        if trigger == "mark_overdue":
            self.missed = True
        elif trigger == "block_personnel_data":
            self.blocked = True
        elif trigger == "unblock_personnel_data":
            self.blocked = False
        self.steps.append(Step(trigger, actor, at, fields, note))


# --- the simulation ------------------------------------------------------------------------------------------

class _Simulation:
    def __init__(self, app: Jejak, spec: ElectionSpec, seed: int, scale: float):
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1000):
            raise InvalidField("scale", f"must be a number above 0 (at most 1000), got {scale!r}")
        self.app, self.spec, self.scale = app, spec, scale
        self.era = get_era(spec.era)
        self.settings = app.settings
        self.dest = _destinations(self.era)
        self.rng = random.Random(f"jejak-demo:{spec.name}:{seed}")
        self.plans: list[CasePlan] = []
        self.ppk_speed: dict[str, float] = {}
        self.never_ppks: list[str] = []

    # helpers ----------------------------------------------------------------------------------------------

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def office(self, t: datetime) -> datetime:
        """The next office-hours moment (Mon–Fri, 08:00–16:00 WIB) at or after t, keeping the order of a day."""
        local = t.astimezone(WIB)
        day, frac = local.date(), (local.hour * 3600 + local.minute * 60 + local.second) / 86400
        if local.hour >= 16:
            day, frac = day + DAY, self.rng.random() * 0.3
        elif local.hour < 8:
            frac = self.rng.random() * 0.3
        else:
            frac = (frac - 8 / 24) * 3
        while day.weekday() >= 5:
            day += DAY
        return datetime.combine(day, time(8), tzinfo=WIB) + timedelta(hours=8 * min(max(frac, 0.0), 0.999))

    def within(self, t: datetime, low: datetime, high: datetime | None) -> datetime:
        """t in office hours if that still fits before `high`, else t itself, kept inside [low, high)."""
        snapped = self.office(t)
        if high is not None and snapped >= high:
            snapped = t
        if high is not None:
            snapped = min(snapped, high - timedelta(minutes=5))
        return max(snapped, low)

    def sequence(self, plan: CasePlan, items: list[tuple], end: datetime | None, fill: float = 0.85,
                 tail: timedelta = timedelta()) -> None:
        """Fire (trigger, actor, typical duration, fields) one after another from the plan's last step,
        squeezing the durations (and a `tail` kept free for what comes next) to fit before `end` if needed."""
        start = plan.last
        total = sum((d for _, _, d, _ in items), tail)
        factor = 1.0
        if end is not None and total > (end - start) * fill:
            factor = max((end - start) * fill / total, 0.0) if total else 1.0
        t = start
        for trigger, actor, duration, fields in items:
            t = t + duration * factor
            plan.step(trigger, actor, self.within(t, plan.last, end), **fields)
            t = max(t, plan.last)

    def times_from_curve(self, knots: list[tuple[date, float]], count: int) -> list[datetime]:
        """`count` times whose cumulative curve follows the knots (stratified inverse sampling), in office hours."""
        final = knots[-1][1]
        points = [(datetime.combine(d, time(0), tzinfo=WIB) + DAY, c / final * count) for d, c in knots]
        points[0] = (points[0][0] - DAY, 0.0)
        out, seg = [], 0
        for k in range(count):
            target = k + self.rng.random()
            while points[seg + 1][1] < target:
                seg += 1
            (t0, c0), (t1, c1) = points[seg], points[seg + 1]
            t = t0 + (t1 - t0) * ((target - c0) / (c1 - c0))
            out.append(t)
        return sorted(self.office(t) for t in out)

    def apportion(self, shares: dict[str, float], total: int) -> list[str]:
        """Exactly `total` labels in the given shares (largest remainder), shuffled."""
        labels = [k for k, n in apportioned(shares, total).items() for _ in range(n)]
        self.rng.shuffle(labels)
        return labels

    def weighted(self, weights: dict[str, float]) -> str:
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def nip(self, group: str, on: date) -> str | None:
        if group == "non_asn":
            return None
        birth = date(self.rng.randint(1965, 1996), self.rng.randint(1, 12), self.rng.randint(1, 28))
        appointed = min(birth.year + self.rng.randint(22, 32), on.year - 1)
        return f"{birth:%Y%m%d}{appointed}{self.rng.randint(1, 12):02d}{self.rng.randint(1, 2)}" \
               f"{self.rng.randint(1, 999):03d}"

    @staticmethod
    def bawaslu(plan: CasePlan) -> str:
        """Provincial Bawaslu for provincial civil servants, the regency/city Bawaslu otherwise."""
        return f"bawaslu:{plan.province}" if plan.agency.startswith("pemprov-") else f"bawaslu:{plan.regency}"

    def ppk(self, plan: CasePlan) -> str:
        return f"ppk:{plan.agency}"

    def decree(self, plan: CasePlan, at: datetime) -> str:
        unit = {"pemprov": "BKD", "pemkab": "BKPSDM", "pemkot": "BKPSDM"}.get(plan.agency.split("-")[0], "KEP")
        return f"800/{self.rng.randint(10, 999)}/{unit}/{at.year}"

    # the report --------------------------------------------------------------------------------------------

    def new_plan(self, index: int, at: datetime, region: tuple[str, str], category: str, group: str) -> CasePlan:
        rng = self.rng
        regency = region[1]  # its province as it stood on the day (REGIONS_2020: Merauke in Papua until 2022)
        province = codes.province_on(regency, at.astimezone(WIB).date())
        kind, _, name = regency.partition("-")
        roll = rng.random()
        if roll < 0.15:
            agency = "pemprov-" + province.removeprefix("prov-")
        elif roll < 0.175 and group != "non_asn":
            agency = "kementerian-agama"
        else:
            agency = ("pemkab-" if kind == "kab" else "pemkot-") + name
        place = ("Kabupaten " if kind == "kab" else "Kota ") + name.replace("-", " ").title()
        descriptions, evidence = INCIDENTS[category]
        public = rng.random() < 0.45  # a public report (laporan); otherwise a Bawaslu finding (temuan)
        fields = dict(
            name=self.person(), nip=self.nip(group, at.date()), position=rng.choice(POSITIONS[group]),
            position_group=group, agency=agency, province=province, regency=regency, category=category,
            election=self.spec.name, description=rng.choice(descriptions), place=place,
            event_date=(at.astimezone(WIB).date() - timedelta(days=rng.randint(0, 6))).isoformat(),
            evidence=", ".join(rng.sample(evidence, rng.randint(1, len(evidence)))),
            external_ref=demo_ref(self.spec.name, index),
        )
        if public:
            fields.update(reporter_name=self.person(),
                          reporter_contact=f"08{rng.randint(11, 59)}-{rng.randint(1000, 9999)}-"
                                           f"{rng.randint(1000, 9999)}")
            if rng.random() < 0.5:
                fields["witnesses"] = self.person()
        fields = {k: v for k, v in fields.items() if v is not None}
        plan = CasePlan(self, index, "reporter", at, fields)
        if not public:
            plan.steps[0].actor, plan.public = self.bawaslu(plan), False
        return plan

    def to_commission(self, plan: CasePlan, end: datetime | None, examine: bool = True,
                      allow_return: bool = True) -> None:
        """Review, registration, forwarding to the commission, and (optionally) the start of its examination."""
        rng, bawaslu, commission = self.rng, self.bawaslu(plan), self.era.commission
        items = [("begin_review", bawaslu, HOUR * rng.uniform(1, 30), {})]
        if plan.public and rng.random() < 0.08:
            items += [("request_correction", bawaslu, self.days(0.2, 1.5), {}),
                      ("submit_correction", "reporter", self.days(0.5, 4.5), {})]
        late = rng.random() < 0.22  # Bawaslu misses its handling deadline
        items += [("register", bawaslu, self.days(0.3, 2.5), {}),
                  ("forward", bawaslu, self.days(5.5, 14) if late else self.days(0.8, 4.5), {})]
        if examine:
            items.append(("begin_examination", commission, self.days(0.5, 10), {}))
            if allow_return and rng.random() < 0.03:
                items += [("return_to_bawaslu", commission, self.days(3, 15), {}),
                          ("forward", bawaslu, self.days(1, 5), {}),
                          ("begin_examination", commission, self.days(0.5, 5), {})]
        # keep room for the commission's own examination before `end`, when that is a recommendation
        self.sequence(plan, items, end, tail=self.days(2, 20) if examine else timedelta())

    def recommend(self, plan: CasePlan, at: datetime) -> None:
        group = plan.steps[0].fields["position_group"]
        track = "non_asn" if group == "non_asn" else None
        code = self.weighted(RECOMMENDATIONS["non_asn" if track else self.spec.era])
        track = track or self.era.all_sanctions[code].track
        plan.recommended_sanction = code
        plan.step("recommend", self.era.commission, at, track=track, sanction=code)

    def impose(self, plan: CasePlan, at: datetime) -> None:
        code = plan.recommended_sanction
        severity = self.era.all_sanctions[code].severity
        tracks = ("non_asn",) if self.era.all_sanctions[code].track == "non_asn" else ("ethics", "discipline")
        lighter = sorted((s for s in self.era.all_sanctions.values() if s.track in tracks and s.severity < severity),
                         key=lambda s: -s.severity)
        if lighter and self.rng.random() < LIGHTER_SANCTION_RATE:
            code = self.rng.choice(lighter[:3]).code
        plan.step("impose_sanction", self.ppk(plan), at, sanction=code, decree_number=self.decree(plan, at))

    def ppk_phase(self, plan: CasePlan, end: datetime | None, horizon: datetime, blocking_from: datetime,
                  escalate_after: timedelta = timedelta(days=30), blocking: float = 1.0) -> None:
        """After the recommendation: the PPK's examination, the overdue tick, BKN's blocking, the commission's
        escalation, and the end of the story (`end` = the sanction time when there is one)."""
        rng, fate = self.rng, plan.fate
        recommended, overdue = plan.last, plan.tick
        stop = end or horizon
        events: list[tuple[datetime, str, str, dict, str | None]] = []
        if fate == "departed":
            stop = min(recommended + self.days(5, 150), horizon)
        elif fate == "cancelled":
            stop = min(recommended + self.days(10, 90), horizon)
        examined = None
        if fate in ("sanctioned", "pending") and rng.random() < (0.6 if fate == "sanctioned" else 1.0):
            examined = recommended + (stop - recommended) * rng.uniform(0.1, 0.8)
            events.append((examined, "begin_ppk_examination", self.ppk(plan), {}, None))
        if overdue is not None and overdue < stop:
            # the case sits in `overdue` from the tick until the PPK next acts
            quiet_end = examined if examined and examined > overdue else stop
            if quiet_end - overdue > escalate_after + 10 * DAY and rng.random() < (0.45 if fate == "never" else 0.2):
                at = overdue + escalate_after + (quiet_end - overdue - escalate_after - 5 * DAY) * rng.random()
                target = self.weighted({"kemenpan-rb": 6, "kemendagri": 3, "president": 1})
                events.append((at, "escalate", self.era.commission, {"to": target},
                               "rekomendasi belum ditindaklanjuti PPK"))
            block_from = max(overdue, blocking_from) + self.days(1, 10)
            p_block = blocking * {"sanctioned": 0.7, "never": 0.7, "departed": 0.5}.get(fate, 0.3)
            if block_from < stop - 2 * DAY and rng.random() < p_block:
                if fate == "sanctioned":
                    at = max(block_from, stop - self.days(2, 75))
                else:
                    at = block_from + (stop - 2 * DAY - block_from) * rng.random() * 0.5
                events.append((at, "block_personnel_data", "bkn", {}, "permintaan KASN: PPK belum menindaklanjuti"))
        events = [(self.within(at, recommended, stop), k, *rest) for k, (at, *rest) in enumerate(events)]
        for at, _, trigger, actor, fields, note in sorted(events, key=lambda e: e[:2]):
            plan.catch_up(at)
            if trigger == "escalate" and plan.state != "overdue":
                continue  # the PPK moved first after all
            plan.step(trigger, actor, at, note, **fields)
        if fate == "sanctioned":
            self.impose(plan, end)
        elif fate == "departed":
            if rng.random() < 0.6:
                plan.step("record_departure", self.ppk(plan), stop, reason=rng.choice(["retired", "resigned"]))
            else:
                plan.step("record_departure", "bkn", stop, reason="left")
        elif fate == "cancelled":
            plan.step("cancel", self.era.commission, stop, "rekomendasi dicabut setelah klarifikasi")
        if plan.blocked and fate in ("sanctioned", "departed"):
            if rng.random() < 0.7:
                at = self.office(plan.last + timedelta(days=rng.gammavariate(1.5, 25)))
                if at < horizon:
                    plan.step("unblock_personnel_data", "bkn", at)
        elif plan.blocked and rng.random() < 0.08:
            at = self.office(plan.last + self.days(20, 120))
            if at < horizon:
                plan.step("unblock_personnel_data", "bkn", at, "diblokir karena kekeliruan data")
        plan.catch_up(horizon)

    # matching milestone times to cases ---------------------------------------------------------------------

    @staticmethod
    def match(times: list[datetime], candidates: list[tuple[datetime, datetime, int]]) -> dict[int, datetime]:
        """Give each time (ascending) to the eligible candidate (ready <= time) with the earliest wish.
        candidates: (ready, wish, index). When nobody is ready yet, the time waits for the next one."""
        candidates = sorted(candidates)
        heap: list[tuple[datetime, int, datetime]] = []
        out, j, floor = {}, 0, None
        for t in times:
            if floor is not None and t < floor:
                t = floor
            while j < len(candidates) and candidates[j][0] <= t:
                heapq.heappush(heap, (candidates[j][1], candidates[j][2], candidates[j][0]))
                j += 1
            if not heap:
                if j == len(candidates):
                    break
                t = candidates[j][0] + timedelta(minutes=30)
                while j < len(candidates) and candidates[j][0] <= t:
                    heapq.heappush(heap, (candidates[j][1], candidates[j][2], candidates[j][0]))
                    j += 1
            _, index, ready = heapq.heappop(heap)
            out[index] = t
            floor = t
        return out

    def speed(self, agency: str) -> float:
        if agency not in self.ppk_speed:
            self.ppk_speed[agency] = math.exp(self.rng.gauss(0, 0.6))
        return self.ppk_speed[agency]

    # elections ---------------------------------------------------------------------------------------------

    def regions(self, count: int, flatten: float = 1.0) -> list[tuple[str, str]]:
        weights = {f"{p}|{r}": w ** flatten for p, regs in REGIONS_2020.items() for r, w in regs.items()}
        return [tuple(label.split("|")) for label in self.apportion(weights, count)]

    def plan_2020(self) -> None:
        rng = self.rng
        n = max(1, round(PUBLISHED_2020_FINAL["reported"] * self.scale))
        m = round(PUBLISHED_2020_FINAL["recommended"] * self.scale)
        s = round(PUBLISHED_2020_FINAL["followed_up"] * self.scale)
        report_times = self.times_from_curve(CURVE_2020["report"], n)
        regions = self.regions(n)
        categories = self.apportion(CATEGORY_SHARES, n)
        groups = self.apportion(POSITION_SHARES, n)
        plans = [self.new_plan(i, report_times[i], regions[i], categories[i], groups[i]) for i in range(n)]
        self.plans = plans

        # Which cases KASN recommends on: early ones a little more often (the published curve starts steep).
        early = datetime(2020, 6, 27, tzinfo=WIB)
        keys = sorted(((rng.random() ** (1 / (1.8 if p.last < early else 1.0)), p.index) for p in plans),
                      reverse=True)
        recommended = sorted(i for _, i in keys[:m])
        chosen = set(recommended)
        for p in plans:
            if p.index not in chosen:
                p.fate = self.weighted({"not_registered": 20, "dismissed": 30, "not_proven": 40, "cancelled": 10})

        # When: the published curve, each time to the ready case that wished for it first.
        times = self.times_from_curve(CURVE_2020["recommend"], m)
        wishes = [(plans[i].last + 2 * DAY, plans[i].last + timedelta(days=2 + rng.gammavariate(1.5, 12)), i)
                  for i in recommended]
        rec_at = self.match(times, wishes)
        # The recommendation of 15 Apr 2020 that was still unexecuted six months later.
        slow = min(rec_at, key=lambda i: (abs(rec_at[i] - datetime(2020, 4, 15, 10, tzinfo=WIB)), i))
        if plans[slow].last + 2 * DAY <= datetime(2020, 4, 15, 10, tzinfo=WIB):
            rec_at[slow] = datetime(2020, 4, 15, 10, tzinfo=WIB)

        # PPKs that never act, chosen among the smaller ones, for about 45% of the recommendations never
        # followed up; the rest of those end departed, cancelled or still pending.
        per_agency = Counter(plans[i].agency for i in recommended)
        agencies = sorted(a for a, c in per_agency.items() if c <= 12 * self.scale and a != "kementerian-agama")
        rng.shuffle(agencies)
        unfollowed, never = m - s, []
        budget = round(0.45 * unfollowed)
        for agency in agencies:
            if sum(per_agency[a] for a in never) + per_agency[agency] <= budget:
                never.append(agency)
        self.never_ppks = never
        never_set = set(never)
        for i in recommended:
            plans[i].fate = "never" if plans[i].agency in never_set or i == slow else ""
        rest = [i for i in recommended if not plans[i].fate]
        rng.shuffle(rest)
        others = unfollowed - sum(1 for i in recommended if plans[i].fate == "never")
        for k, i in enumerate(rest):
            if k < others:
                plans[i].fate = ("departed", "cancelled", "pending")[0 if k < others * 0.35 else
                                                                    1 if k < others * 0.55 else 2]
            else:
                plans[i].fate = "sanctioned"
        to_sanction = [i for i in recommended if plans[i].fate == "sanctioned"]
        times = self.times_from_curve(CURVE_2020["impose_sanction"], len(to_sanction))
        wishes = [(rec_at[i] + DAY, rec_at[i] + timedelta(days=1 + self.speed(plans[i].agency)
                                                          * rng.gammavariate(1.3, 25)), i) for i in to_sanction]
        sanction_at = self.match(times, wishes)

        for p in plans:
            i = p.index
            if i in chosen:
                self.to_commission(p, rec_at[i])
                self.recommend(p, rec_at[i])
                if i == slow:
                    self.slow_case(p)
                else:
                    self.ppk_phase(p, sanction_at.get(i), HORIZON_2020, BLOCKING_FROM)
            else:
                self.unrecommended(p)

    def slow_case(self, plan: CasePlan) -> None:
        """The recommendation of 15 Apr 2020, still unexecuted six months later: escalated to the President."""
        plan.step("block_personnel_data", "bkn", datetime(2020, 9, 21, 10, tzinfo=WIB),
                  "permintaan KASN: PPK belum menindaklanjuti")
        plan.step("escalate", "kasn", datetime(2020, 10, 16, 10, tzinfo=WIB),
                  "rekomendasi 15 April 2020 belum dilaksanakan setelah enam bulan", to="president")
        plan.catch_up(HORIZON_2020)

    def unrecommended(self, plan: CasePlan) -> None:
        rng, bawaslu, fate = self.rng, self.bawaslu(plan), plan.fate
        if fate == "not_registered":
            items = [("begin_review", bawaslu, HOUR * rng.uniform(1, 30), {})]
            if plan.public and rng.random() < 0.5:
                items += [("request_correction", bawaslu, self.days(0.2, 1.5), {}),
                          ("reject_registration", bawaslu, self.days(4, 10), {})]
            else:
                items.append(("reject_registration", bawaslu, self.days(1, 5), {}))
            self.sequence(plan, items, None)
        elif fate == "dismissed":
            self.sequence(plan, [("begin_review", bawaslu, HOUR * rng.uniform(1, 30), {}),
                                 ("register", bawaslu, self.days(0.3, 2.5), {}),
                                 ("dismiss", bawaslu, self.days(1, 9), {})], None)
        elif fate == "not_proven":
            self.to_commission(plan, None)
            self.sequence(plan, [("find_not_proven", self.era.commission, self.days(5, 60), {})], None)
        else:  # cancelled: the report is withdrawn, or the commission finds it belongs elsewhere
            examine = rng.random() < 0.5
            self.to_commission(plan, None, examine=examine, allow_return=False)
            actor = self.era.commission if examine or rng.random() < 0.5 else bawaslu
            self.sequence(plan, [("cancel", actor, self.days(3, 40), {})], None)
        plan.catch_up(HORIZON_2020)

    def plan_2024(self) -> None:
        rng, as_of = self.rng, AS_OF_2024
        n = max(1, round(PUBLISHED_2024_TOTAL * self.scale))
        report_times = [min(t, as_of - 6 * HOUR) for t in self.times_from_curve(CURVE_2024_REPORTS, n)]
        regions = self.regions(n, flatten=0.5)
        categories = self.apportion(CATEGORY_SHARES, n)
        groups = self.apportion(POSITION_SHARES, n)
        plans = [self.new_plan(i, report_times[i], regions[i], categories[i], groups[i]) for i in range(n)]
        self.plans = plans
        counts = Counter(self.apportion(PUBLISHED_2024_PARTS, n))
        # The further along a case is on 4 Dec, the earlier it was (mostly) reported.
        middle = ["awaiting_ppk"] * counts["awaiting_ppk"] + ["rejected"] * counts["rejected"] + \
                 ["not_proven"] * counts["not_proven"] + ["cancelled"] * counts["cancelled"]
        rng.shuffle(middle)
        fates = ["sanctioned"] * counts["sanctioned"] + ["departed"] * counts["departed"] + middle + \
                ["awaiting_bkn"] * counts["awaiting_bkn"]
        order = sorted(range(n), key=lambda i: (i / n + rng.gauss(0, 0.2), i))
        for i, fate in zip(order, fates):
            plans[i].fate = fate
        bkn = self.era.commission
        for p in plans:
            fate, room = p.fate, as_of - p.last
            if fate == "awaiting_bkn":
                self.to_commission(p, as_of, examine=rng.random() < 0.4, allow_return=False)
            elif fate in ("rejected", "cancelled") and rng.random() < 0.5:
                self.to_commission(p, p.last + room * 0.6, examine=False, allow_return=False)
                actor = bkn if fate == "rejected" or rng.random() < 0.5 else self.bawaslu(p)
                self.sequence(p, [("reject" if fate == "rejected" else "cancel", actor, self.days(1, 15), {})],
                              as_of)
            elif fate in ("rejected", "cancelled", "not_proven"):
                self.to_commission(p, p.last + room * 0.6, allow_return=False)
                trigger = {"rejected": "reject", "cancelled": "cancel", "not_proven": "find_not_proven"}[fate]
                self.sequence(p, [(trigger, bkn, self.days(2, 20), {})], as_of)
            elif fate == "departed" and rng.random() < 0.5:
                self.to_commission(p, p.last + room * 0.6, allow_return=False)
                self.sequence(p, [("record_departure", bkn, self.days(2, 20), {"reason": "left"})], as_of)
            else:  # recommended: awaiting the PPK, sanctioned, or departed after the recommendation
                rec = p.last + room * rng.uniform(0.3, 0.75) if fate != "awaiting_ppk" else \
                    p.last + min(room * 0.9, timedelta(days=3 + rng.gammavariate(1.5, 8)))
                self.to_commission(p, rec, allow_return=False)
                rec = self.within(rec, p.last, as_of)
                self.recommend(p, rec)
                end = None
                if fate == "sanctioned":
                    end = self.within(rec + (as_of - rec) * rng.uniform(0.3, 0.9), rec, as_of)
                p.fate = {"awaiting_ppk": "pending" if rng.random() < 0.4 else "never"}.get(fate, fate)
                self.ppk_phase(p, end, as_of - HOUR, rec, escalate_after=timedelta(days=10), blocking=0.15)
                p.fate = fate
            p.catch_up(as_of - HOUR)

    # stamping and replaying ---------------------------------------------------------------------------------

    def stamp(self, cap: datetime | None) -> None:
        """When each step was recorded: minutes to hours after it happened, a few percent weeks later;
        never before an earlier step of the case, never after the system's next tick saw it."""
        rng = self.rng
        for plan in self.plans:
            steps = plan.steps
            limit, limits = None, []
            for s in reversed(steps):
                limits.append(limit)
                if s.trigger == "mark_overdue":
                    limit = s.at
            limits.reverse()
            prev = None
            for k, (s, lim) in enumerate(zip(steps, limits)):
                if s.trigger == "mark_overdue":
                    rec = s.at + timedelta(seconds=rng.randint(1, 20))
                else:
                    roll = rng.random()
                    if roll < BACKDATED_RATE and s.trigger in ("report", "register", "recommend",
                                                                "impose_sanction", "record_departure"):
                        rec = self.office(s.at + self.days(14, 42))  # keyed in weeks later
                    elif roll < 0.75:
                        rec = s.at + timedelta(minutes=rng.uniform(2, 120))  # keyed in right away
                    else:
                        rec = self.office(s.at + HOUR * rng.uniform(2, 30))  # later that day or the next
                    if lim is not None:
                        rec = min(rec, max(lim - timedelta(minutes=1), s.at))
                if cap is not None:  # leave a second for each later step, so the order holds under the cap
                    rec = max(min(rec, cap - timedelta(seconds=len(steps) - k)), s.at)
                if prev is not None:
                    rec = max(rec, prev + timedelta(seconds=1))
                s.recorded = prev = rec

    def order(self) -> list[tuple[datetime, int, int]]:
        """Every step as (recorded, plan index, step index), in the order the replay records them."""
        return sorted((s.recorded, p.index, k) for p in self.plans for k, s in enumerate(p.steps))

    def stored_prefix(self) -> int:
        """How many of this demo's events the store already holds (0, or the first batches of a run that was
        killed, or all of them). Refused if they are not a prefix of this run (another seed or scale)."""
        ids = {demo_case_id(self.spec.name, p.index): p.index for p in self.plans}
        stored: Counter = Counter()
        start = 0
        while page := self.app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False):
            for n in page:
                index = ids.get(n.originator_id if isinstance(n.originator_id, UUID) else UUID(str(n.originator_id)))
                if index is not None:
                    stored[index] += 1
            start = page[-1].id
        done = sum(stored.values())
        if Counter(index for _, index, _ in self.order()[:done]) != stored:
            raise InvalidField("election", f"the store already holds {self.spec.name} demo data ({done} events) "
                                           "made with another seed or scale; nothing added (run it with that "
                                           "--seed and --scale to complete it, or use a fresh --db)")
        return done

    def replay(self, progress: bool, start: int = 0) -> int:
        """Record the steps, in batches of BATCH_EVENTS (one transaction each), from step `start` on: a run
        that was killed is resumed after the batches it saved."""
        app = self.app
        clock = app.clock
        order = self.order()
        live: dict[int, Any] = {}
        dirty: dict[int, Any] = {}
        bar = _progress(len(order), f"demo {self.spec.name}", progress)
        bar.update(start)
        try:
            for n, (recorded, index, k) in enumerate(order, start=1):
                if n <= start:
                    continue
                plan = self.plans[index]
                step = plan.steps[k]
                clock.now = recorded
                if k > 0 and index not in live:  # begun by the killed run
                    live[index] = app.get_case(demo_case_id(self.spec.name, index))
                if k == 0:
                    live[index] = app.new_case(step.actor, occurred_at=step.at, era=self.era.id, note=step.note,
                                               **step.fields)
                else:
                    app.apply_trigger(live[index], step.trigger, step.actor, occurred_at=step.at, note=step.note,
                                      **step.fields)
                dirty[index] = live[index]
                if k == len(plan.steps) - 1:
                    del live[index]
                if n % BATCH_EVENTS == 0 or n == len(order):
                    app.record_cases(*dirty.values())
                    dirty.clear()
                    bar.update(n - bar.n)
        finally:
            bar.close()
        return len(order)

    # bookkeeping -------------------------------------------------------------------------------------------

    def summary(self, as_of: datetime | None) -> dict[str, Any]:
        plans = self.plans
        reached = Counter(t for p in plans for t in {s.trigger for s in p.steps})
        n, rec, san = len(plans), reached["recommend"], reached["impose_sanction"]
        severity = self.era.all_sanctions
        lighter = sum(1 for p in plans for s in p.steps if s.trigger == "impose_sanction"
                      and severity[s.fields["sanction"]].severity < severity[p.recommended_sanction].severity)
        backdated = sum(1 for p in plans for s in p.steps if s.recorded - s.at >= timedelta(days=7))
        end = as_of or max(s.at for p in plans for s in p.steps)
        ppk_rows: dict[str, list[float]] = defaultdict(list)
        ppk_done: Counter = Counter()
        for p in plans:
            r, s = p.at("recommend"), p.at("impose_sanction")
            if r is None:
                continue
            ppk = p.agency
            ppk_rows[ppk].append(((s or end) - r).total_seconds() / 86400)
            ppk_done[ppk] += s is not None
        slowest = sorted(({"ppk": a, "recommendations": len(d), "followed_up": ppk_done[a],
                           "median_days": round(median(d), 1), "open": len(d) - ppk_done[a]}
                          for a, d in ppk_rows.items() if len(d) >= 3),
                         key=lambda r: (-r["median_days"], r["ppk"]))[:5]
        out = {
            "election": self.spec.name, "era": self.era.id, "scale": self.scale,
            "as_of": (as_of or end).isoformat(), "cases": n, "events": sum(len(p.steps) for p in plans),
            "funnel": {"reported": n, "registered": reached["register"], "forwarded": reached["forward"],
                       "recommended": rec, "followed_up": san},
            "rates": {"recommended_of_reported": round(rec / n, 4) if n else None,
                      "followed_up_of_recommended": round(san / rec, 4) if rec else None},
            "states": dict(sorted(Counter(p.state for p in plans).items())),
            "overdue_marks": reached["mark_overdue"], "escalated": reached["escalate"],
            "blocked": reached["block_personnel_data"], "unblocked": reached["unblock_personnel_data"],
            "lighter_sanctions": lighter, "backdated_events": backdated,
            "never_acting_ppks": len(self.never_ppks), "slowest_ppks": slowest,
        }
        if self.spec.name == "pilkada-2020":
            out["curve"] = [self.curve_point(day, published) for day, *published in PUBLISHED_2020_CURVE]
            out["published"] = {k: v if "rate" in k else round(v * self.scale)
                                for k, v in PUBLISHED_2020_FINAL.items()}
            day, cases, govs = PUBLISHED_2020_UNFOLLOWED
            cut = datetime.combine(day, time(0), tzinfo=WIB) + DAY
            unfollowed = [p for p in plans if (r := p.at("recommend")) and r < cut
                          and not ((s := p.at("impose_sanction")) and s < cut)
                          and any(st.trigger == "mark_overdue" and st.at < cut and st.at > r for st in p.steps)]
            out["unfollowed_overdue_on"] = {"date": day.isoformat(), "cases": len(unfollowed),
                                            "ppks": len({p.agency for p in unfollowed}),
                                            "published": {"cases": cases, "ppks": govs}}
            out["blocked_on"] = {d.isoformat(): {"cases": self.blocked_on(d), "published": v}
                                 for d, v in PUBLISHED_2020_BLOCKED.items()}
        else:
            groups = {"awaiting_bkn": ("forwarded", "under_commission_examination"),
                      "awaiting_ppk": ("recommended", "under_ppk_examination", "overdue"),
                      "sanctioned": ("sanctioned",), "not_proven": ("not_proven",), "cancelled": ("cancelled",),
                      "rejected": ("rejected",), "departed": ("departed",)}
            states = Counter(p.state for p in plans)
            scaled = apportioned(PUBLISHED_2024_PARTS, n)  # the parts scaled to this run's total
            out["published_parts"] = {
                k: {"cases": sum(states[s] for s in v), "published": PUBLISHED_2024_PARTS[k],
                    "published_scaled": scaled[k]}
                for k, v in groups.items()}
        return out

    def curve_point(self, day: date, published: list[int]) -> dict[str, Any]:
        cut = datetime.combine(day, time(0), tzinfo=WIB) + DAY
        counts = [sum(1 for p in self.plans if (t := p.at(trigger)) is not None and t < cut)
                  for trigger in ("report", "recommend", "impose_sanction")]
        return {"date": day.isoformat(), "reported": counts[0], "recommended": counts[1], "followed_up": counts[2],
                "published": dict(zip(("reported", "recommended", "followed_up"),
                                      (round(v * self.scale) for v in published)))}

    def blocked_on(self, day: date) -> int:
        cut = datetime.combine(day, time(0), tzinfo=WIB) + DAY
        count = 0
        for p in self.plans:
            blocked = False
            for s in p.steps:
                if s.at >= cut:
                    break
                if s.trigger == "block_personnel_data":
                    blocked = True
                elif s.trigger in ("unblock_personnel_data", "impose_sanction"):
                    blocked = False
            count += blocked
        return count


def apportioned(shares: dict[str, float], total: int) -> dict[str, int]:
    """Split `total` in the given shares, rounding by largest remainder so the parts add up."""
    norm = sum(shares.values())
    raw = {k: v / norm * total for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (counts[k] - raw[k], k))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _progress(total: int, desc: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; keep working without it
        enabled = False
    if not enabled:
        class _Null:
            n = 0

            def update(self, k):
                self.n += k

            def close(self):
                pass
        return _Null()
    return tqdm(total=total, desc=desc, unit="event", file=sys.stderr, dynamic_ncols=True)


def generate(app: Jejak, election: str = "pilkada-2020", seed: int = 0, scale: float = 1.0,
             progress: bool = True, resume: bool = False) -> dict[str, Any]:
    """Fill the store with one election's demo cases (or "all"); returns a summary per election.

    Raises InvalidField if the store already holds that election's demo data; with ``resume``, only if it
    holds all of it: a run that was killed part-way is completed (same seed and scale).
    """
    names = list(ELECTIONS) if election == "all" else [election]
    for name in names:
        if name not in ELECTIONS:
            raise InvalidField("election", f"no demo for {name!r}", allowed=[*ELECTIONS, "all"])
        if has_demo_data(app, name) and not resume:
            raise DemoPresent(name)
    saved_clock = app.clock
    if not isinstance(app.clock, DemoClock):
        app.clock = DemoClock()
    started = timer.perf_counter()
    out: dict[str, Any] = {"seed": seed, "scale": scale, "elections": {}}
    try:
        for name in names:
            t0 = timer.perf_counter()
            sim = _Simulation(app, ELECTIONS[name], seed, scale)
            if name == "pilkada-2020":
                sim.plan_2020()
                as_of, cap = HORIZON_2020, None
            else:
                sim.plan_2024()
                as_of, cap = AS_OF_2024, AS_OF_2024
            sim.stamp(cap)
            done = sim.stored_prefix() if resume else 0
            if done == len(sim.order()):
                raise DemoPresent(name)
            sim.replay(progress, start=done)
            summary = sim.summary(as_of)
            summary["seconds"] = round(timer.perf_counter() - t0, 2)
            out["elections"][name] = summary
    finally:
        app.clock = saved_clock
    out["seconds"] = round(timer.perf_counter() - started, 2)
    return out


def print_summary(result: dict[str, Any], out=None, notebooks_store=None) -> None:
    out = out or sys.stdout
    w = lambda text="": print(text, file=out)  # noqa: E731
    for name, s in result["elections"].items():
        f, r = s["funnel"], s["rates"]
        w(f"{name} ({s['era']}): {s['cases']:,} cases, {s['events']:,} events in {s['seconds']} s "
          f"(seed {result['seed']}, scale {result['scale']:g})")
        w(f"  funnel  reported {f['reported']:,} > registered {f['registered']:,} > forwarded {f['forwarded']:,}"
          f" > recommended {f['recommended']:,} ({_pct(r['recommended_of_reported'])} of reported)"
          f" > followed up {f['followed_up']:,} ({_pct(r['followed_up_of_recommended'])} of recommended)")
        if "published" in s:
            p = s["published"]
            w(f"  published: {p['reported']:,} > {p['recommended']:,} ({_pct(p['recommended_rate'])}) > "
              f"{p['followed_up']:,} ({_pct(p['followed_up_rate'])})")
        if "published_parts" in s:
            parts = ", ".join(f"{k.replace('_', ' ')} {v['cases']}" for k, v in s["published_parts"].items())
            w(f"  on {s['as_of'][:10]}: {parts}")
        w(f"  overdue marks {s['overdue_marks']:,}, escalations {s['escalated']}, blocked {s['blocked']} "
          f"(unblocked {s['unblocked']}), lighter sanctions {s['lighter_sanctions']}, "
          f"backdated entries {s['backdated_events']}")
        if s["slowest_ppks"]:
            w("  slowest PPKs (median days from recommendation to follow-up; open cases count until "
              f"{s['as_of'][:10]}):")
            for row in s["slowest_ppks"]:
                w(f"    {row['ppk']:<32} {row['median_days']:>6.1f} days  {row['followed_up']}/"
                  f"{row['recommendations']} followed up")
        w()
    w(f"Open the notebooks on this store with:  {notebooks_command(notebooks_store)}")


def notebooks_command(store=None) -> str:
    """How to open the notebooks (they read JEJAK_DB, else the repository's jejak.db) on this store."""
    jupyter = Path(sys.executable).with_name("jupyter")
    command = f"{jupyter if jupyter.exists() else 'jupyter'} lab notebooks/"
    if store is None:
        return command
    url = str(store) if store.is_postgres else f"sqlite:///{Path(store.database).resolve()}"
    return f"JEJAK_DB={url} {command}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
