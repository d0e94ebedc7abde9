"""What the rule-based system says: offers, questions, booking confirmations and refusals, and the attributes a
user asked for, in plain sentences (each venue named once, by its whole name)."""

from __future__ import annotations

from typing import Any

from app.dialogue.transcript import Booked, Found, Refused, ToolError
from domains.values import DONTCARE

THINGS = {"hotel": "places to stay", "restaurant": "restaurants", "attraction": "attractions", "train": "trains"}
THING = {"hotel": "place to stay", "restaurant": "restaurant", "attraction": "attraction", "train": "train"}
# A venue's type as a noun, singular and plural, where adding an "s" does not do ("a concert hall").
KINDS = {"architecture": ("place of interesting architecture", "places of interesting architecture"),
         "entertainment": ("place for entertainment", "places for entertainment"),
         "multiple sports": ("place for multiple sports", "places for multiple sports"),
         "swimmingpool": ("swimming pool", "swimming pools"), "concerthall": ("concert hall", "concert halls")}
QUESTIONS = {
    "area": "What area would you like?", "pricerange": "What price range would you like?",
    "food": "What type of food would you like?", "type": "What type of place are you looking for?",
    "stars": "How many stars would you like?", "parking": "Do you need free parking?",
    "internet": "Do you need free wifi?", "name": "Which one are you looking for?",
    "day": "What day would you like?", "people": "How many people is it for?",
    "stay": "How many nights will you stay?", "time": "What time would you like?",
    "departure": "Where will you be leaving from?", "destination": "Where are you going to?",
    "leaveat": "What time would you like to leave or arrive by?",
}
YES_NO_THINGS = {"parking": "free parking", "internet": "free wifi"}


def greeting() -> str:
    """The reply to a message that asks for nothing the rules understand."""
    return "Hello! I can help you find a hotel, a restaurant, an attraction, a train or a taxi. What do you need?"


def goodbye() -> str:
    """The reply to a farewell."""
    return "You are welcome. Have a great day, goodbye!"


def question(domain: str, slots: list[str]) -> str:
    """The questions for the slots still needed."""
    if "leaveat" in slots and domain == "taxi":
        slots = [s for s in slots if s != "leaveat"] + ["taxi time"]
    texts = [QUESTIONS.get(s, "What time would you like to leave, or arrive by?") for s in slots]
    return " ".join(texts)


def how_many(domain: str, count: int, values: dict[str, Any]) -> str:
    """"There are 21 restaurants serving italian food.", "There are 23 museums.", "There are 57 expensive
    restaurants." """
    return f"There {'is' if count == 1 else 'are'} {count} {_described(domain, values, plural=count != 1)}."


def offer(domain: str, venue: dict[str, Any]) -> str:
    """One venue, named once, with what it is."""
    if domain == "train":
        return (f"{venue['trainid']} leaves {venue['departure']} at {venue['leaveat']} on {venue['day']} and "
                f"arrives in {venue['destination']} at {venue['arriveby']}.")
    kind = venue.get("type") if domain != "restaurant" else f"restaurant serving {venue.get('food')} food"
    where = f" in the {venue['area']}" if venue.get("area") not in (None, "?") else ""
    price = f"{venue['pricerange']} " if domain != "attraction" and venue.get("pricerange") not in (None, "?") else ""
    described = f"{price}{kind}"
    article = "an" if described[:1] in "aeiou" else "a"
    return f"I recommend {venue['name']}, {article} {described}{where}."


def no_match(domain: str, values: dict[str, Any]) -> str:
    """Nothing matches."""
    return f"I am sorry, there is no {_described(domain, values)}. Would you like to try something else?"


def refused(domain: str, venue: dict[str, Any], outcome: Refused) -> str:
    """A refused booking, with what the venue has free."""
    name = venue.get("trainid") if domain == "train" else venue.get("name")
    return f"I am sorry, {name} is fully booked then ({outcome.reason}); it is {outcome.hint}. " \
           "Would you like to try another time?"


def booked(booking: Booked) -> str:
    """A confirmed booking and its reference."""
    return f"Your booking is confirmed; the reference number is {booking.reference}."


def facts(domain: str, venue: dict[str, Any], booking: Booked | None, requests: list[str]) -> str:
    """The attributes the user asked for, one sentence each."""
    source = {**venue, **({"price": venue.get("price")} if domain == "train" else {})}
    return " ".join(_fact(a, source, booking) for a in requests)


def _fact(attribute: str, source: dict[str, Any], booking: Booked | None) -> str:
    if attribute == "reference":
        return f"The reference number is {booking.reference}." if booking else "Nothing is booked yet."
    value = source.get(attribute)
    if value is None or value == "?":
        return f"I do not know the {attribute}."
    if attribute in YES_NO_THINGS:
        return f"It has {YES_NO_THINGS[attribute]}." if value == "yes" else \
            f"It does not have {YES_NO_THINGS[attribute]}."
    spoken = {"stars": f"It has {value} stars.", "area": f"It is in the {value}.", "type": f"It is a {value}.",
              "food": f"They serve {value} food.", "pricerange": f"It is in the {value} price range.",
              "leaveat": f"It leaves at {value}.", "arriveby": f"It arrives at {value}.",
              "duration": f"The journey takes {value}.", "trainid": f"The train ID is {value}."}
    return spoken.get(attribute, f"The {attribute} is {value}.")


def anything_else(domain: str, venue: dict[str, Any], bookable: bool) -> str:
    """Nothing new to say: offer the next step."""
    return "Would you like me to book it?" if bookable else "Is there anything else I can help with?"


def trouble(result: Found | Booked | Refused | ToolError | None) -> str:
    """A tool answered something the rules cannot use."""
    reason = result.message if isinstance(result, ToolError) else "no answer"
    return f"I am sorry, something went wrong ({reason}). Could you say that again?"


def taxi_booked(booking: Booked, requests: list[str]) -> str:
    """A booked taxi: the car, its phone and the reference."""
    details = booking.details
    return (f"I have booked a taxi from {details.get('departure')} to {details.get('destination')}: a "
            f"{details.get('car')}, contact number {details.get('phone')}. The reference number is "
            f"{booking.reference}.")


def taxi_trouble(outcome: Any) -> str:
    """A taxi that could not be booked."""
    reason = outcome.reason if isinstance(outcome, Refused) else getattr(outcome, "message", "no answer")
    return f"I am sorry, I could not book the taxi ({reason}). Could you check the details?"


def _described(domain: str, values: dict[str, Any], plural: bool = False) -> str:
    """What was asked for, as a noun with its price before and the rest after ("expensive restaurants serving
    indian food in the centre", "guesthouse in the north without free wifi")."""
    kind = values.get("type")
    if kind in (None, DONTCARE):
        noun = (THINGS if plural else THING).get(domain, domain)
    else:
        singular, several = KINDS.get(str(kind), (str(kind), f"{kind}s"))
        noun = several if plural else singular
    price = values.get("pricerange")
    before = "moderately priced " if price == "moderate" else f"{price} " if price not in (None, DONTCARE) else ""
    parts, features = [], []  # features: "with free parking and without free wifi"
    for slot, value in values.items():
        if value == DONTCARE or slot in ("type", "pricerange"):
            continue
        if slot in YES_NO_THINGS:
            features.append(f"with {YES_NO_THINGS[slot]}" if value == "yes" else f"without {YES_NO_THINGS[slot]}")
        elif slot == "food":
            parts.append(f"serving {value} food")
        elif slot == "stars":
            features.append(f"with {value} stars")
        elif slot == "area":
            parts.append(f"in the {value}")
        elif slot == "name":
            parts.append(f"called {value}")
        elif slot in ("departure", "destination", "day", "leaveat", "arriveby"):
            parts.append({"departure": "from", "destination": "to", "day": "on", "leaveat": "leaving after",
                          "arriveby": "arriving by"}[slot] + f" {value}")
        else:
            parts.append(str(value))
    return " ".join([f"{before}{noun}", *parts, *([" and ".join(features)] if features else [])])
