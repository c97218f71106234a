"""Parcel carriers and postal services: organisations customers name in nearly every delivery question.

The set-up step seeds them as gazetteer terms (:func:`ner.extraction.recognizers.gazetteer.seed_parcel_carriers`),
so the default pipeline knows them without training, and an administrator can switch any off in the
admin.  Written from general knowledge of the market (national posts and the larger private
carriers of Europe, the Americas, Asia and Oceania).  Names that are also everyday words
("Bring", "Speedy", "Stuart") are left out: a literal match cannot tell the two apart.
Acronyms are matched in capitals only, so "ups and downs" is not a carrier.
"""

from __future__ import annotations

CARRIERS: tuple[str, ...] = (
    # Europe
    "An Post", "APC Overnight", "Asendia", "Bpost", "BRT", "Budbee", "Chronopost", "Colis Privé",
    "Colissimo", "Correos", "Correos Express", "CTT", "CTT Expresso", "Czech Post", "DB Schenker",
    "Deutsche Post", "DHL", "DHL Express", "DHL Parcel", "DHL eCommerce", "DPD", "Econt", "Evri",
    "Fan Courier", "GLS", "GO! Express", "Hermes", "InPost", "Instabox", "Itella", "La Poste",
    "Magyar Posta", "Mondial Relay", "MRW", "Nacex", "Nova Poshta", "Omniva", "Österreichische Post",
    "Packeta", "Parcelforce", "Parcelforce Worldwide", "Poczta Polska", "Posti", "PostNL", "PostNord",
    "Poste Italiane", "Relais Colis", "Royal Mail", "SDA", "SEUR", "Swiss Post", "Tuffnells",
    "UK Mail", "Ukrposhta", "Whistl", "Yodel", "Zásilkovna",
    # Americas
    "Amazon Logistics", "Amazon Shipping", "Andreani", "Canada Post", "Canpar", "Chilexpress",
    "Coordinadora", "Correios", "Correos de México", "Estafeta", "FedEx", "FedEx Ground", "Jadlog",
    "LaserShip", "Loggi", "Loomis Express", "OnTrac", "Purolator", "Servientrega", "UPS", "UPS Ground",
    "USPS", "United States Postal Service",
    # Middle East and Africa
    "Aramex", "Aras Kargo", "Emirates Post", "Israel Post", "Naqel", "SMSA Express", "Yurtiçi Kargo",
    # Asia and Oceania
    "Australia Post", "Blue Dart", "Cainiao", "China Post", "CJ Logistics", "CourierPost", "CouriersPlease",
    "Delhivery", "DTDC", "Ekart", "Flash Express", "Hanjin", "India Post", "J&T Express", "Japan Post",
    "Kerry Express", "Korea Post", "LBC Express", "Ninja Van", "NZ Post", "Pos Laju", "Pos Malaysia",
    "Sagawa Express", "Sendle", "SF Express", "Singapore Post", "SingPost", "StarTrack", "Thailand Post",
    "Yamato Transport", "YTO Express", "ZTO Express",
)  # fmt: skip


def carrier_terms() -> list[tuple[str, str, bool]]:
    """``(label, term, case_insensitive)`` for each carrier: names with an acronym exact, other names in any case.

    "DHL" only in capitals ("ups and downs" is no carrier), and so "DHL Parcel" too: "my DHL parcel"
    names DHL and a parcel, not the DHL Parcel company.
    """
    return [("ORG", name, not any(word.isupper() for word in name.split())) for name in CARRIERS]
