"""The demo's calibration: the published points with our assumptions in between (cumulative curves, regional
weights, position titles, incident texts, names, what commissions recommend, how often entries are late)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from demo.published import PUBLISHED_CATEGORY_SHARES, PUBLISHED_POSITION_SHARES

WIB = timezone(timedelta(hours=7), "WIB")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

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


def apportioned(shares: dict[str, float], total: int) -> dict[str, int]:
    """Split `total` in the given shares, rounding by largest remainder so the parts add up."""
    norm = sum(shares.values())
    raw = {k: v / norm * total for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (counts[k] - raw[k], k))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts
