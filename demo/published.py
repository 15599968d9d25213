"""The figures KASN and BKN published on ASN neutrality complaints: reference data, which the demo generator is
calibrated on and the notebooks and tests check against. Source: the published figures collected in the project's
domain notes (KASN statements on the 2020 regional elections, KASN's 2020–2022 recapitulation, BKN's statement of
4 December 2024), as quoted in issue 4."""

from __future__ import annotations

from datetime import date


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
