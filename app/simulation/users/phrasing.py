"""How the agenda user words things: constraints, bookings, trips and questions in the words MultiWOZ users use
(never a slot name), each with a few variants chosen by the user's seeded random generator."""

from __future__ import annotations

import random
import re
from typing import Any

from app.simulation.wording import NUMBER_WORDS
from domains.values import DONTCARE

# How a user asks to be told an attribute (the goal's `reqt` names), a few ways each.
ASKING = {
    "phone": ("the phone number", "the phone number", "the contact number"),
    "address": ("the address", "the address", "the exact address"),
    "postcode": ("the postcode", "the post code", "the postcode"),
    "entrance fee": ("the entrance fee", "the entrance fee", "the admission fee"),
    "price": ("the price", "the ticket price", "the fare"),
    "duration": ("the travel time", "the journey time", "how long the journey takes"),
    "leaveat": ("the departure time", "the departure time", "when it leaves"),
    "arriveby": ("the arrival time", "the arrival time", "when it arrives"),
    "trainid": ("the train ID", "the train number", "the train ID"),
    "car type": ("the car type", "the type of car", "what car it will be"),
    "area": ("the area", "what part of town it is in", "the area"),
    "type": ("the type", "what kind of place it is", "the type"),
    "internet": ("whether they have internet", "whether there is wifi", "whether they have internet"),
    "parking": ("whether they have free parking", "whether there is parking", "whether they have parking"),
    "stars": ("the star rating", "how many stars it has", "the star rating"),
    "pricerange": ("the price range", "the price range", "the price range"),
    "food": ("the type of food", "what food they serve", "the cuisine"),
    "reference": ("the reference number", "the reference number", "the booking reference"),
}
PLACES = {"hotel": ("a place to stay", "somewhere to stay", "accommodation"),
          "restaurant": ("a restaurant", "a place to eat", "somewhere to eat"),
          "attraction": ("something to do", "a place to go", "an attraction to visit"),
          "train": ("a train", "a train", "a train ticket"),
          "taxi": ("a taxi", "a taxi", "a cab")}
# An attraction type as a thing to look for ("a museum", "some interesting architecture").
ATTRACTION_TYPES = {"swimmingpool": "a swimming pool", "concerthall": "a concert hall", "architecture":
                    "some interesting architecture", "entertainment": "some entertainment", "multiple sports":
                    "a place for multiple sports", "nightclub": "a nightclub"}
NO_PREFERENCE = ("I don't mind.", "No preference.", "Any is fine.", "It doesn't matter.")


def listed(parts: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}" if parts else ""


def clock(hhmm: str, rng: random.Random) -> str:
    """A 24-hour time as people write it: 17:15 or 5:15 pm (or 5pm on the hour)."""
    hour, minute = map(int, hhmm.split(":"))
    if rng.random() < 0.6 or hour >= 24:
        return hhmm
    twelve, suffix = hour % 12 or 12, "am" if hour < 12 else "pm"
    return f"{twelve}{suffix}" if minute == 0 and rng.random() < 0.5 else f"{twelve}:{minute:02d} {suffix}"


def number(value: int, rng: random.Random) -> str:
    """A small number as digits or as a word."""
    return NUMBER_WORDS[value] if value < 10 and rng.random() < 0.3 else str(value)


def constraint(domain: str, slot: str, value: Any, rng: random.Random) -> str:
    """One constraint in words ("in the north", "with free wifi", "that serves indian food")."""
    if value == DONTCARE:
        return f"in any {slot}" if slot == "area" else ""
    choose = rng.choice
    text = str(value)
    if slot == "area":
        return choose([f"in the {text}", f"in the {text} of town", f"located in the {text}"]) if text != "centre" \
            else choose(["in the centre", "in the city centre", "in the centre of town"])
    if slot == "pricerange":
        adjective = "moderately priced" if text == "moderate" else text
        return choose([f"in the {text} price range", f"that is {text}", f"that is {adjective}"])
    if slot == "stars":
        count = number(int(text), rng) if text.isdigit() else text
        return choose([f"with a {count} star rating", f"rated {count} stars", f"that has {count} stars"])
    if slot in ("parking", "internet"):
        feature = "free parking" if slot == "parking" else choose(["free wifi", "free internet", "wifi"])
        return choose([f"with {feature}", f"that has {feature}"]) if text == "yes" else \
            f"that does not need to have {feature}"
    if slot == "food":
        return choose([f"that serves {text} food", f"serving {text} food", f"with {text} food"])
    if slot == "type" and domain == "hotel":
        return choose(["that is a guesthouse", "that is a guest house"]) if text == "guesthouse" else "that is a hotel"
    if slot == "type":
        return {"architecture": "with interesting architecture", "entertainment": "for entertainment",
                "multiple sports": "for multiple sports"}.get(text, f"that is {thing(domain, text)}")
    if slot == "name":
        return choose([f"called {text}", f"named {text}"])
    return trip_part(slot, text, rng)


def thing(domain: str, kind: str) -> str:
    """What the user looks for, by its type ("a guesthouse", "a museum", "some interesting architecture")."""
    if domain == "hotel":
        return "a guesthouse" if kind == "guesthouse" else "a hotel"
    return ATTRACTION_TYPES.get(kind, f"a {kind}")


def trip_part(slot: str, text: str, rng: random.Random) -> str:
    """A train's or a taxi's constraint in words ("from cambridge", "on monday", "leaving after 17:15")."""
    choose = rng.choice
    if slot == "departure":
        return choose([f"from {text}", f"departing from {text}", f"leaving from {text}"])
    if slot == "destination":
        return choose([f"to {text}", f"going to {text}", f"heading to {text}"])
    if slot == "day":
        return choose([f"on {text}", f"for {text}"])
    if slot == "leaveat":
        return choose([f"leaving after {clock(text, rng)}", f"departing after {clock(text, rng)}",
                       f"that leaves after {clock(text, rng)}"])
    if slot == "arriveby":
        return choose([f"arriving by {clock(text, rng)}", f"that gets there by {clock(text, rng)}",
                       f"arriving before {clock(text, rng)}"])
    return text


def taxi_time(slot: str, value: str, rng: random.Random) -> str:
    """A taxi's time ("I want to leave at 13:45", "it should arrive by 17:30")."""
    if slot == "leaveat":
        return rng.choice([f"leaving at {clock(value, rng)}", f"to pick me up at {clock(value, rng)}",
                           f"leaving after {clock(value, rng)}"])
    return rng.choice([f"arriving by {clock(value, rng)}", f"to get there by {clock(value, rng)}"])


def booking(values: dict[str, Any], rng: random.Random) -> str:
    """Booking values in words ("for 5 people on thursday at 14:00", "for 3 nights starting monday")."""
    parts = []
    for slot, value in values.items():
        if slot == "people":
            people = "person" if value == 1 else "people"  # "for one person", not "for one people"
            parts.append(rng.choice([f"for {number(value, rng)} {people}", f"for {number(value, rng)} {people}",
                                     f"for a party of {value}", f"for {number(value, rng)} of us"]))
        elif slot == "stay":
            parts.append(f"for {number(value, rng)} night{'s' if value != 1 else ''}")
        elif slot == "day":
            parts.append(rng.choice([f"on {value}", f"starting {value}", f"from {value}"]))
        elif slot == "time":
            parts.append(f"at {clock(str(value), rng)}")
    return " ".join(parts)


def is_clause(asked: str) -> bool:
    """Is an attribute asked for as a clause ("whether there is parking", "how many stars it has"), which "What is
    ...?" cannot take?"""
    return any(part.startswith(("whether ", "how ", "what ", "when ")) for part in re.split(", | and ", asked))


def asking(attributes: list[str], rng: random.Random) -> str:
    """The attributes the user wants to be told, in words."""
    return listed([rng.choice(ASKING.get(a, (a,))) for a in attributes])
