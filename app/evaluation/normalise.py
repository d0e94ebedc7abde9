"""The standard evaluator's normalisation (Tomiinek/MultiWOZ_Evaluation, mwzeval), reimplemented from its code.

Placeholders in responses become one canonical token each ("[restaurant_name]s" -> NAME), and state slots
and values get mwzeval's spellings (its alias tables for names, types, foods and times), so that the venue
lookup sees exactly what mwzeval sees. Where mwzeval is wrong, `corrected=True` gives the right reading;
the default follows mwzeval (the numbers then agree with everyone else's)."""

from __future__ import annotations

import re
from functools import cache

# mwzeval's slot-name ontology: canonical token -> the placeholder spellings that mean it.
_TOKENS = {
    "ADDRESS": "address attraction_address hospital_address hotel_address police_address restaurant_address "
               "value_address",
    "AREA": "area value_area attraction_area restaurant_area hotel_area",
    "TIME": "booktime value_time time duration value_duration train_duration arriveby taxi_arriveby value_arrive "
            "train_arriveby leaveat value_leave train_leaveat train_leave train_arrive taxi_leaveat",
    "DAY": "day value_day bookday train_day",
    "PLACE": "destination value_destination departure value_departure value_place train_departure "
             "train_destination taxi_destination taxi_departure",
    "FOOD": "food value_food restaurant_food",
    "NAME": "name attraction_name hospital_name hotel_name police_name restaurant_name value_name",
    "PHONE": "phone attraction_phone hospital_phone hotel_phone police_phone restaurant_phone taxi_phone value_phone",
    "POST": "postcode attraction_postcode hospital_postcode hotel_postcode restaurant_postcode value_postcode "
            "police_postcode",
    "PRICE": "price value_price entrancefee train_price attraction_entrancefee pricerange value_pricerange "
             "restaurant_pricerange hotel_pricerange attraction_pricerange attraction_price",
    "REFERENCE": "ref attraction_reference hotel_reference restaurant_reference train_reference value_reference "
                 "reference",
    "COUNT": "stars value_stars hotel_stars bookstay value_stay stay bookpeople value_people people choice "
             "value_choice value_count attraction_choice hotel_choice restaurant_choice train_choice",
    "TYPE": "type taxi_type taxi_car value_type value_car car restaurant_type hotel_type attraction_type",
    "TRAINID": "trainid train_id value_id id train train_trainid",
    "INTERNET": "internet hotel_internet",
    "PARKING": "parking hotel_parking",
    "ID": "hospital_id attraction_id restaurant_id",
    "DEPARTMENT": "value_department department hospital_department",
    "OPEN": "openhours",
}
_SPACED = {"arrive by": "TIME", "leave at": "TIME", "entrance fee": "PRICE", "price range": "PRICE"}
PLACEHOLDER_TOKENS = {**{s: t for t, spellings in _TOKENS.items() for s in spellings.split()}, **_SPACED}
# A placeholder, with the plural endings mwzeval strips ("[name]s", "[value_place]-es").
_PLACEHOLDER = re.compile(r"\[([\w\s]+)\](es|s|-s|-es|)")


def response_tokens(response: str) -> str:
    """The response lowercased, each known placeholder replaced by its token (NAME, PHONE, ...), unknown ones
    removed: mwzeval then looks for the tokens as substrings, and so do we."""
    return _PLACEHOLDER.sub(lambda m: PLACEHOLDER_TOKENS.get(m[1], ""), response.lower())


def mwzeval_slot(slot: str) -> str:
    """`leave at`, `leaveAt`, `leaveat` -> `leave`; `book day` -> `bookday` (mwzeval's state slot names)."""
    name = slot.lower().replace(" ", "")
    return {"arriveby": "arrive", "leaveat": "leave"}.get(name, name)


_NAMES = {  # mwzeval looks these up for every domain (it never passes one), so they apply to stations too
    "hotel du vin bistro": "hotel du vin and bistro", "the river bar and grill": "the river bar steakhouse and grill",
    "nando's": "nandos", "city center b and b": "city center north b and b", "acorn house": "acorn guest house",
    "caffee uno": "caffe uno", "cafe uno": "caffe uno", "rosa's": "rosas bed and breakfast",
    "restaurant called two two": "restaurant two two", "restaurant 2 two": "restaurant two two",
    "restaurant two 2": "restaurant two two", "restaurant 2 2": "restaurant two two",
    "restaurant 1 7": "restaurant one seven", "restaurant 17": "restaurant one seven",
    "lime house": "limehouse", "cityrooms": "cityroomz", "whale of time": "whale of a time",
    "huntingdon hotel": "huntingdon marriott hotel",
    "holiday inn exlpress, cambridge": "express by holiday inn cambridge",
    "university hotel": "university arms hotel", "arbury guesthouse and lodge": "arbury lodge guesthouse",
    "bridge house": "bridge guest house", "arbury guesthouse": "arbury lodge guesthouse",
    "nandos in the city centre": "nandos city centre", "broughton gallery": "broughton house gallery",
    "scudamores punt co": "scudamores punting co", "cambridge botanic gardens": "cambridge university botanic gardens",
    "the junction": "junction theatre", "trinity street college": "trinity college",
    "christ college": "christ's college",
    "christs": "christ's college", "history of science museum": "whipple museum of the history of science",
    "parkside pools": "parkside swimming pool",
    "the botanical gardens at cambridge university": "cambridge university botanic gardens",
    "cafe jello museum": "cafe jello gallery",
}
# mwzeval's mistakes, with the right reading: the database calls the theatre "the junction" (the alias makes
# the fuzzy lookup fail), and "seven o'clock tomorrow evening" is 19:00, not 07:00.
_NAME_FIXES = {"the junction": "the junction"}
_TYPES = {"swimming pool": "swimmingpool", "mutliple sports": "multiple sports", "night club": "nightclub",
          "guest house": "guesthouse"}
_FOODS = {"eriterean": "mediterranean", "brazilian": "portuguese", "sea food": "seafood", "portugese": "portuguese",
          "modern american": "north american", "americas": "north american", "intalian": "italian",
          "italain": "italian", "asian or oriental": "asian", "english": "british", "australasian": "australian",
          "gastropod": "gastropub", "brutish": "british", "bristish": "british", "europeon": "european"}
_TIMES = {"afternoon": "13:00", "lunch": "12:00", "noon": "12:00", "mid-day": "12:00", "around lunch time": "12:00",
          "morning": "08:00", "seven o'clock tomorrow evening": "07:00", "three forty five p.m": "15:45",
          "one thirty p.m.": "13:30", "six fourty five": "06:45", "eight thirty": "08:30"}
_TIME_FIXES = {"seven o'clock tomorrow evening": "19:00"}
_TIME_SLOTS = {"arrive", "leave", "arriveby", "leaveat", "time"}


def slot_value(slot: str, value: str, corrected: bool = False) -> str:
    """mwzeval's `normalize_state_slot_value`: the slot name must already be mwzeval's (see `mwzeval_slot`)."""
    if slot in ("name", "destination", "departure"):
        return _name(value, corrected)
    if slot == "type":
        return _TYPES.get(value, value)
    if slot == "food":
        food = value.strip().lower()
        return _FOODS.get(food, food)
    if slot in _TIME_SLOTS:
        return _time(value, corrected)
    if slot in ("parking", "internet"):
        return "yes" if value == "free" else value
    return value


def _name(value: str, corrected: bool) -> str:
    name = value.strip().lower().replace(" & ", " and ").replace("&", " and ").replace(" '", "'")
    return (_NAME_FIXES if corrected and name in _NAME_FIXES else _NAMES).get(name, name)


def _time(value: str, corrected: bool) -> str:
    text = value.strip().lower()
    fixed = {**_TIMES, **_TIME_FIXES} if corrected else _TIMES
    if text in fixed:
        return fixed[text]
    for start, clock in (("one o'clock p.m", "13:00"), ("ten o'clock a.m", "10:00")):
        if text.startswith(start):
            return clock
    text = text[3:] if text.startswith("by") else text  # mwzeval assumes "by " (three characters)
    for prefix in ("after", "afer"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    return _clock(_after_meridiem(text))


def _after_meridiem(text: str) -> str:
    """Strip a.m.; add 12 hours for p.m. (mwzeval's way, "12 pm" included), or return the text unchanged."""
    for suffix in ("am", "a.m."):
        if text.endswith(suffix):
            text = text[:-len(suffix)].strip()
    for suffix in ("pm", "p.m."):
        if text.endswith(suffix):
            text = text[:-len(suffix)].strip()
            parts = text.split(":")
            try:
                if len(parts) == 2:
                    return f"{int(parts[0]) + 12}:{parts[1]}"
                if len(parts) == 1 and parts[0].isdigit():
                    return f"{int(parts[0]) + 12}:00"
            except ValueError:  # mwzeval crashes on "around 5:30pm"; keep the text instead
                return text
    return text


def _clock(text: str) -> str:
    if not text:
        return "00:00"
    text = text[:-1] if text[-1] in ".,?" else text
    if text.isdigit():
        return f"{text[:2]}:{text[2:]}" if len(text) == 4 else f"{text.zfill(2)}:00"
    if ":" in text:
        text = text.replace(" ", "")
    if len(text) == 4 and text[1] == ":":
        hours, minutes = text.split(":")
        return f"{hours.zfill(2)}:{minutes}"
    return text


@cache
def minutes(clock: str) -> int:
    """mwzeval's `time_str_to_minutes`: HH:MM at the start, else 0 (so an unreadable time matches anything)."""
    found = re.match(r"([0-9][0-9]):([0-9][0-9])", clock)
    return int(found[1]) * 60 + int(found[2]) if found else 0


def state(turn_state: dict[str, dict[str, str]], corrected: bool = False) -> dict[str, dict[str, str]]:
    """A predicted state with mwzeval's slot names and values (its `normalize_data`)."""
    out = {}
    for domain, slots in turn_state.items():
        named = {mwzeval_slot(slot): value for slot, value in slots.items()}
        out[domain] = {slot: slot_value(slot, value, corrected) for slot, value in named.items()}
    return out
