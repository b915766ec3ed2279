"""The sandbox's catalogue of who members pay and who pays them.

Rules: card spending is drawn by weight from merchants with a per-merchant amount range;
subscriptions recur monthly on a fixed day and amount; salary and rent recur monthly with
amounts chosen once per PSU. Bank transaction codes follow ISO 20022 (domain-family-subfamily).
"""

from dataclasses import dataclass
from decimal import Decimal

CARD_CODE = "PMNT-CCRD-POSD"
DIRECT_DEBIT_CODE = "PMNT-RDDT-ESDD"
CREDIT_IN_CODE = "PMNT-RCDT-ESCT"
CREDIT_OUT_CODE = "PMNT-ICDT-ESCT"


@dataclass(frozen=True)
class Merchant:
    """A card merchant: category, town on the card slip, amount range, draw weight."""

    name: str
    city: str
    category: str
    low: Decimal
    high: Decimal
    weight: int


@dataclass(frozen=True)
class Subscription:
    """A monthly direct debit with a fixed amount on a fixed day of the month."""

    name: str
    day: int
    amount: Decimal


def _m(name: str, city: str, category: str, low: str, high: str, weight: int) -> Merchant:
    return Merchant(name, city, category, Decimal(low), Decimal(high), weight)


CARD_MERCHANTS: tuple[Merchant, ...] = (
    _m("Carrefour City", "PARIS", "groceries", "4.50", "68.00", 10),
    _m("Monoprix", "PARIS", "groceries", "6.20", "92.00", 6),
    _m("Lidl", "MONTREUIL", "groceries", "12.00", "95.00", 6),
    _m("Franprix", "PARIS", "groceries", "3.10", "41.00", 5),
    _m("Biocoop", "LYON", "groceries", "8.00", "54.00", 3),
    _m("RATP", "PARIS", "transport", "2.15", "86.40", 6),
    _m("SNCF Connect", "PARIS", "transport", "19.00", "129.00", 1),
    _m("Uber", "PARIS", "transport", "9.80", "42.00", 2),
    _m("Lime", "PARIS", "transport", "1.90", "7.60", 2),
    _m("TotalEnergies", "NANTERRE", "transport", "35.00", "85.00", 1),
    _m("Le Petit Bistrot", "PARIS", "restaurants", "14.00", "62.00", 3),
    _m("Big Mamma", "PARIS", "restaurants", "22.00", "85.00", 1),
    _m("Starbucks", "PARIS", "restaurants", "3.90", "11.50", 4),
    _m("Deliveroo", "PARIS", "restaurants", "16.00", "48.00", 3),
    _m("Boulangerie Paul", "LILLE", "restaurants", "1.20", "9.80", 5),
    _m("Amazon EU", "LUXEMBOURG", "shopping", "7.99", "149.00", 2),
    _m("Fnac", "PARIS", "shopping", "9.99", "329.00", 1),
    _m("Decathlon", "VILLENEUVE D ASCQ", "shopping", "6.00", "120.00", 1),
    _m("Pharmacie Lafayette", "TOULOUSE", "health", "3.80", "36.00", 2),
)

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("Netflix International", 5, Decimal("13.49")),
    Subscription("Spotify AB", 12, Decimal("10.99")),
    Subscription("Free Mobile", 8, Decimal("19.99")),
    Subscription("Apple Services", 20, Decimal("2.99")),
    Subscription("Basic-Fit France", 1, Decimal("29.99")),
    Subscription("EDF Particuliers", 15, Decimal("64.00")),
    Subscription("Canal+", 10, Decimal("24.99")),
)

EMPLOYERS: tuple[str, ...] = (
    "ACME SAS",
    "Transdev Ile-de-France",
    "Hopital Saint-Louis AP-HP",
    "Capgemini Technology Services",
    "Mairie de Lyon",
)

LANDLORDS: tuple[str, ...] = (
    "Foncia Paris Bastille",
    "SCI Les Tilleuls",
    "Nexity Lamy",
    "Jean Dupont",
)

FIRST_NAMES: tuple[str, ...] = ("Camille", "Louis", "Chloe", "Hugo", "Ines", "Malik", "Lea")
LAST_NAMES: tuple[str, ...] = ("Martin", "Bernard", "Nguyen", "Lefebvre", "Haddad", "Moreau")
