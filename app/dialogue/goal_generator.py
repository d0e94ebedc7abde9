"""Goals generated from the database in MultiWOZ's goal structure, for a machine without the test goals.

Where the 1,000 MultiWOZ test goals can neither be found nor downloaded (a machine that reaches only the package
index), Play a goal still needs goals. These are made the way ConvLab-3's goal generator
(`convlab/task/multiwoz/goal_generator.py`) makes them, from the database alone instead of the corpus'
statistics, which such a machine lacks: 1-3 domains, in the proportions of the test goals; per venue domain the
`info` constraints of a venue that exists (or its name alone), sometimes a `fail_info` asked first that finds
nothing; attributes to be told (`reqt`) that every matching venue has; a `book` with every slot the booking needs,
sometimes after a `fail_book` first choice; a train by route, day and a time it meets; a taxi between two of the
goal's venues, arriving by a restaurant booking's time. Days line up as in ConvLab (the restaurant on the hotel's
day, a train to Cambridge on the day the stay begins). Every goal is marked `generated`, and says so.
"""

from __future__ import annotations

import random
from typing import Any

from app.dialogue.goals import DomainGoal, Goal, Value, attribute_words, constraint_words, normalised
from db.catalogue import UNKNOWN, Catalogue
from domains import domain as find_domain
from domains.values import WEEKDAYS, minutes

GENERATED_GOALS = 100
SEED = 2025  # the same database always gives the same goals, so a generated goal's id names one goal
DOMAIN_COUNT_WEIGHTS = {1: 23, 2: 63, 3: 14}  # percent of the MultiWOZ test goals with 1, 2 or 3 domains
VENUES = ("hotel", "restaurant", "attraction")
# The slots the test goals describe a venue by, and how many of them they give.
INFO_SLOTS = {"hotel": ("area", "pricerange", "type", "stars", "parking", "internet"),
              "restaurant": ("area", "pricerange", "food"), "attraction": ("area", "type")}
INFO_SIZES = {"hotel": (3, 4), "restaurant": (2, 3), "attraction": (1, 2)}
NAMED_PERCENT = 22  # venues named instead of described
FAIL_INFO_PERCENT = {"hotel": 40, "restaurant": 15, "attraction": 30}
BOOK_PERCENT = {"hotel": 60, "restaurant": 70, "train": 50}
FAIL_BOOK_PERCENT = 20
REQUESTS = {"hotel": ("address", "postcode", "phone", "area", "pricerange", "stars", "type", "internet", "parking"),
            "restaurant": ("address", "postcode", "phone", "area", "food", "pricerange"),
            "attraction": ("address", "postcode", "phone", "entrance fee", "area", "type"),
            "train": ("duration", "price", "trainid", "leaveat", "arriveby"), "taxi": ("car type", "phone")}
INTRO = {"hotel": "You are looking for a place to stay.", "restaurant": "You are looking for a place to eat.",
         "attraction": "You want to see something in town.", "train": "You need a train.",
         "taxi": "You also need a taxi."}
QUARTERS = ("00", "15", "30", "45")

Part = dict[str, Any]  # info / fail_info / book / fail_book / reqt, as in MultiWOZ's goals


def generate_goals(catalogue: Catalogue, count: int = GENERATED_GOALS, seed: int = SEED) -> list[Goal]:
    """`count` goals made from the database behind `catalogue`, the same ones for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible goals, not secrets
    return [_goal(catalogue, rng, number) for number in range(1, count + 1)]


def _goal(catalogue: Catalogue, rng: random.Random, number: int) -> Goal:
    size = rng.choices(list(DOMAIN_COUNT_WEIGHTS), weights=list(DOMAIN_COUNT_WEIGHTS.values()))[0]
    names = sorted(rng.sample([*VENUES, "train", "taxi"], size), key=lambda name: name == "taxi")  # trips last
    parts: dict[str, Part] = {}
    for name in names:
        parts[name] = (_train(catalogue, rng) if name == "train" else _taxi(catalogue, rng, parts) if name == "taxi"
                       else _venue(catalogue, rng, name))
    _line_up_days(catalogue, parts)
    domains = tuple(_domain_goal(name, parts[name]) for name in names)
    message = tuple(sentence for name in names for sentence in _sentences(name, parts[name], parts))
    return Goal(id=f"gen-{number:03d}", domains=domains, message=message, first_user_turn="", generated=True)


def _venue(catalogue: Catalogue, rng: random.Random, name: str) -> Part:
    domain = find_domain(name)
    row = catalogue.pick(domain, rng.randrange(1 << 30))
    if rng.randrange(100) < NAMED_PERCENT:
        info = {"name": row["name"]}
    else:
        slots = rng.sample(INFO_SLOTS[name], rng.choice(INFO_SIZES[name]))
        info = {slot: row[slot] for slot in INFO_SLOTS[name] if slot in slots and _known(row.get(slot))}
    part: Part = {"info": info, "venue": row["name"]}
    if "name" not in info and rng.randrange(100) < FAIL_INFO_PERCENT[name]:
        part["fail_info"] = _finding_nothing(catalogue, rng, name, info)
    matches = catalogue.find(domain, info, None).rows
    part["reqt"] = [attribute for attribute in rng.sample(REQUESTS[name], rng.randint(1, 3))
                    if attribute not in info and all(_known(match.get(attribute)) for match in matches)]
    if name in BOOK_PERCENT and rng.randrange(100) < BOOK_PERCENT[name]:
        _add_booking(rng, name, part)
    if not part["reqt"] and "book" not in part:  # a goal asks for something: a booking or an attribute
        part["reqt"] = ["address"]
    return part


def _finding_nothing(catalogue: Catalogue, rng: random.Random, name: str, info: dict[str, Any]) -> dict[str, Any]:
    """`info` with one constraint changed so that no venue matches (what the user asks first), or {}."""
    domain = find_domain(name)
    for slot in rng.sample(sorted(info), len(info)):
        others = [v for v in catalogue.vocabulary(domain, domain.slot(slot)) if v != info[slot] and _known(v)]
        for value in rng.sample(others, len(others)):
            if catalogue.find(domain, {**info, slot: value}, 1).count == 0:
                return {**info, slot: value}
    return {}


def _add_booking(rng: random.Random, name: str, part: Part) -> None:
    book: dict[str, Any] = {"people": rng.randint(1, 8)}
    if name != "train":
        book["day"] = rng.choice(WEEKDAYS)
    if name == "hotel":
        book["stay"] = rng.randint(1, 5)
    if name == "restaurant":
        book["time"] = f"{rng.randint(11, 20):02d}:{rng.choice(QUARTERS)}"
    part["book"] = book
    if name in ("hotel", "restaurant") and rng.randrange(100) < FAIL_BOOK_PERCENT:
        changed = rng.choice(["day", "stay" if name == "hotel" else "time"])
        first = {"day": WEEKDAYS[(WEEKDAYS.index(book["day"]) + 1) % 7], "stay": book.get("stay", 1) + 1,
                 "time": _hhmm(minutes(book.get("time", "12:00")) - 60)}[changed]
        part["fail_book"] = {changed: first}


def _train(catalogue: Catalogue, rng: random.Random) -> Part:
    domain = find_domain("train")
    row = catalogue.pick(domain, rng.randrange(1 << 30))
    info: dict[str, Any] = {"departure": row["departure"], "destination": row["destination"], "day": row["day"]}
    arrival = minutes(row["arriveby"])
    if rng.randrange(100) < 60 and arrival < 23 * 60:  # by a time it arrives before, or after one it leaves at
        info["arriveby"] = _hhmm(arrival + (-arrival) % 15)
    else:
        info["leaveat"] = _hhmm(minutes(row["leaveat"]) // 15 * 15)
    part: Part = {"info": info}
    if rng.randrange(100) < BOOK_PERCENT["train"]:
        _add_booking(rng, "train", part)
    # As in the corpus, a train that is booked is not asked its price (the booking says what the tickets cost).
    asked = [a for a in REQUESTS["train"] if a not in info and not (a == "price" and "book" in part)]
    part["reqt"] = rng.sample(asked, rng.randint(0 if "book" in part else 1, 3))
    return part


def _taxi(catalogue: Catalogue, rng: random.Random, parts: dict[str, Part]) -> Part:
    """Between the goal's last two venues (they are then not named), else between two places it names. MultiWOZ has
    no taxi goal with one place named and the other a venue still to be found, nor one beside a single venue: such
    a goal here is our own, and its taxi names both places."""
    venues = [parts[name] for name in VENUES if name in parts]
    restaurant = parts.get("restaurant", {})
    if "book" in restaurant and venues and venues[-1] is restaurant:
        time = {"arriveby": restaurant["book"]["time"]}  # at the restaurant by the booked time
    else:
        time = {rng.choice(["leaveat", "arriveby"]): f"{rng.randint(7, 22):02d}:{rng.choice(QUARTERS)}"}
    if len(venues) >= 2:  # between them: the venues the dialogue settles on, from the one before to the last
        names = [name for name in VENUES if name in parts]
        return {"info": time, "reqt": list(REQUESTS["taxi"]), "trip": (names[-2], names[-1])}
    else:  # a taxi not between two of the goal's venues names both its places, as MultiWOZ's taxi-only goals do
        places: list[str] = []
        while len(places) < 2:
            place = catalogue.pick(find_domain(rng.choice(VENUES)), rng.randrange(1 << 30))["name"]
            places += [place] if place not in places else []
        info = {"departure": places[0], "destination": places[1], **time}
    return {"info": info, "reqt": list(REQUESTS["taxi"])}


def _line_up_days(catalogue: Catalogue, parts: dict[str, Part]) -> None:
    """The restaurant on the hotel's first day; a train into Cambridge on that day too, where one runs then."""
    hotel = parts.get("hotel", {}).get("book")
    if hotel is None:
        return
    if "book" in parts.get("restaurant", {}):
        parts["restaurant"]["book"]["day"] = hotel["day"]
        parts["restaurant"].get("fail_book", {}).pop("day", None)
        if parts["restaurant"].get("fail_book") == {}:
            del parts["restaurant"]["fail_book"]
    train = parts.get("train")
    if train and train["info"]["destination"] == "cambridge":
        moved = {**train["info"], "day": hotel["day"]}
        if catalogue.find(find_domain("train"), moved, 1).count:
            train["info"] = moved


def _domain_goal(name: str, part: Part) -> DomainGoal:
    domain = find_domain(name)

    def values(given: dict[str, Any]) -> dict[str, Value]:
        return {slot: normalised(domain, slot, value) for slot, value in given.items()}

    return DomainGoal(domain=name, info=values(part["info"]), fail_info=values(part.get("fail_info", {})),
                      book=values(part.get("book", {})), fail_book=values(part.get("fail_book", {})),
                      reqt=tuple(part.get("reqt", ())), trip=tuple(part.get("trip", ())))


def _sentences(name: str, part: Part, parts: dict[str, Part]) -> list[str]:
    """The goal's instructions for one domain, as MultiWOZ gives them to its users (in words of our own)."""
    said = [INTRO[name]]
    info, first = part["info"], part.get("fail_info") or part["info"]
    when = constraint_words({slot: value for slot, value in info.items() if slot in ("leaveat", "arriveby")})
    if name == "taxi":
        start, end = (f"the {name}" for name in part["trip"]) if "trip" in part else (info["departure"],
                                                                                      info["destination"])
        route = f"from {start} to {end}"
        said.append(f"It should take you {route}, {when}.")
    elif name == "train":
        said.append(f"It should go from {info['departure']} to {info['destination']} on {info['day']}, {when}.")
    elif "name" in info:
        said.append(f"You are looking for a particular {name} called {info['name']}.")
    else:
        said.append(f"You want one {constraint_words(first)}.")
    if part.get("fail_info"):
        changed = {slot: value for slot, value in info.items() if part["fail_info"].get(slot) != value}
        said.append(f"If there is no such {name}, how about one with {constraint_words(changed)}.")
    if "book" in part:
        said.append(f"Book it {constraint_words({**part['book'], **part.get('fail_book', {})})}.")
    if part.get("fail_book"):
        fallback = {slot: part["book"][slot] for slot in part["fail_book"]}
        said.append(f"If the booking fails, try {constraint_words(fallback)} instead.")
    if part.get("reqt"):
        said.append(f"Make sure you get the {attribute_words(part['reqt'])}.")
    return said


def _hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def _known(value: object) -> bool:
    return value not in (None, "", UNKNOWN, "none")
