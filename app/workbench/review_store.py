"""The review queue: recorded dialogues become items, each rated blind by N raters; answers and lead labels.

Raters work at once from many browser sessions: every write is one short transaction, an answer is unique per
(item, rater, question, target) so a repeated click replaces instead of duplicating, and items are handed out
with a claim so that concurrent raters get different items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.dialogue.transcript import FORKED_FROM, Transcript
from app.workbench.agreement import Answer
from app.workbench.questions import DIALOGUE_TARGET, question
from app.workbench.tables import (
    Adjudication,
    ReviewAnswer,
    ReviewClaim,
    ReviewItem,
    ReviewSetAside,
    create_workbench_tables,
    person_name,
    system_of,
    writing,
)
from db.schema import DialogueRecord, storable

CLAIM_FOR = timedelta(minutes=30)
HAND_OUT_ATTEMPTS = 20
COMPLETING = "task_completed"  # answering this dialogue-level question is what makes an item rated by a rater
ID_LIMIT = 200  # characters of an item's id (the column's width)
EVENT_ID_LIMIT = 40  # characters of an event id (the chat's ratings name events in a column this wide)
SOURCE_LIMIT = 40  # characters of an item's source label
SHARED = "shared"  # the meta key a live dialogue carries once the person shared it with the review queue


def checked_transcript(data: Any) -> Transcript:
    """The dialogue as a sound transcript, or a ValueError saying why it cannot be queued: not a transcript at
    all, one the queue could not show or rate (`Transcript.problems`), or ids longer than the store keeps."""
    try:
        transcript = Transcript.from_data(data)
    except RecursionError:
        raise ValueError("not a transcript: nested too deeply") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:  # old formats fail oddly
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"not a transcript: {reason[:300]}") from None
    problems = transcript.problems()
    if len(transcript.id) > ID_LIMIT:
        problems.insert(0, f"its id is {len(transcript.id)} characters long (at most {ID_LIMIT})")
    if long_ids := [e.id for e in transcript.events if len(e.id) > EVENT_ID_LIMIT]:
        problems.append(f"{len(long_ids)} event id(s) longer than {EVENT_ID_LIMIT} characters")
    if problems:
        raise ValueError("; ".join(problems))
    return transcript


def finished_turns(transcript: Transcript) -> int:
    """Turns the agent answered in full (a turn the person stopped mid-reply, or one that failed, is not one)."""
    return sum(turn.status in ("done", "fallback") for turn in transcript.turns())


class SlotTaken(Exception):
    """The slot chosen for a rater went to another rater first."""


@dataclass(frozen=True)
class Progress:
    """How far the queue is, overall and for one rater."""

    items: int
    needing_raters: int  # items with fewer than N raters
    left_for_rater: int  # of those, the ones this rater has not rated
    rated_by_rater: int
    set_aside: int = 0  # items the queue cannot show, no longer handed out

    def text(self) -> str:
        """The progress as one line for the rater. Dialogues that still need raters but not this one (they rated
        them all) are said to wait for other raters, so the line never contradicts "nothing left for you"."""
        others = self.needing_raters - self.left_for_rater
        waiting = (f"{self.needing_raters} still need raters" if not others
                   else f"{others} rated by you still need other raters" if not self.left_for_rater
                   else f"{self.needing_raters} still need raters ({others} of them other raters, not you)")
        return f"{self.left_for_rater} of {self.items} left for you · you rated {self.rated_by_rater} · {waiting}"


@dataclass(frozen=True)
class QueueItem:
    """A queue item as raters get it: the dialogue's id and its transcript without meta."""

    id: str
    transcript: dict[str, Any]  # as saved; its meta (the system's name) is withheld from raters by the view


class ReviewStore:
    """The review queue in the database: items, claims, answers and the lead's adjudications; every write is
    one short transaction under a lock."""

    def __init__(self, engine: Engine, raters_per_item: int = 3) -> None:
        self.engine = engine
        self.raters_per_item = raters_per_item
        create_workbench_tables(engine)

    # -- items ------------------------------------------------------------------------------------------------
    def enqueue(self, dialogue_id: str, transcript: dict[str, Any], meta: dict[str, Any], source: str) -> bool:
        """Make a dialogue from outside (a run, a file) an item, saving it; False if that very dialogue already
        was one. A ValueError, saving nothing, when it is not a sound transcript (see `checked_transcript`), when
        its meta names no system, or when its id is already taken by a different dialogue."""
        checked = checked_transcript({**transcript, "id": dialogue_id})
        system = system_of(meta)
        if system is None:
            raise ValueError("the transcript does not say which system ran it (no backend, model or system in its "
                             "meta): name it with --backend, --model and --format")
        data = checked.to_data()
        with writing(self.engine, "item", dialogue_id) as session:
            record = session.get(DialogueRecord, dialogue_id)
            if record is not None and not _same_dialogue(record.data, data):
                raise ValueError(f"the id {dialogue_id!r} is already taken by a different dialogue in the store; "
                                 "give this one another id")
            if session.get(ReviewItem, dialogue_id) is not None:
                return False
            if record is None:
                session.add(DialogueRecord(id=dialogue_id, data=data, meta=meta))
            session.add(ReviewItem(id=dialogue_id, source=_source(source), system=system))
        return True

    def share(self, transcript: Transcript) -> bool:
        """A live dialogue its person shared (already saved): an item once it has a finished turn and is sound;
        True when it is one after this. It stays one as the dialogue grows."""
        if not transcript.meta.get(SHARED) or finished_turns(transcript) == 0:
            return False
        if transcript.meta.get(FORKED_FROM):  # its replies up to the fork are another dialogue's (its system's)
            return False
        try:
            checked_transcript(transcript.to_data())
        except ValueError:
            return False
        system = system_of(dict(transcript.meta)) or "unknown"
        with writing(self.engine, "item", transcript.id) as session:
            if session.get(DialogueRecord, transcript.id) is None:
                return False  # not saved (no database write went through): nothing a rater could read
            if session.get(ReviewItem, transcript.id) is None:
                session.add(ReviewItem(id=transcript.id, source=_source(str(transcript.meta.get("source") or "live")),
                                       system=system))
        return True

    def withdraw(self, item_id: str) -> bool:
        """Take a dialogue its person no longer shares out of the queue (answers already given are kept, and
        so is the dialogue); True if it was an item."""
        with writing(self.engine, "item", item_id) as session:
            found = session.get(ReviewItem, item_id)
            if found is None:
                return False
            session.delete(found)
            session.execute(delete(ReviewClaim).where(ReviewClaim.item_id == item_id))
        return True

    def enqueue_recorded(self) -> int:
        """Every saved dialogue its person shared, with a finished turn, that is not an item yet becomes one."""
        with Session(self.engine) as session:
            known = select(ReviewItem.id)
            records = session.scalars(select(DialogueRecord).where(DialogueRecord.id.not_in(known))).all()
            candidates = [(r.id, r.data, dict(r.meta or {})) for r in records if (r.meta or {}).get(SHARED)]
        added = 0
        for dialogue_id, data, meta in candidates:
            try:
                added += self.share(Transcript.from_data({**data, "id": dialogue_id, "meta": meta}))
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
                continue  # not a transcript: never an item
        return added

    def set_aside(self, item_id: str, reason: str) -> None:
        """Stop handing out an item the queue cannot show, keeping why (its open claims are released)."""
        with writing(self.engine, "item", item_id) as session:
            if session.get(ReviewSetAside, item_id) is None:
                session.add(ReviewSetAside(item_id=item_id, reason=reason[:2000]))
            completed = select(ReviewAnswer.id).where(ReviewAnswer.item_id == ReviewClaim.item_id,
                                                      ReviewAnswer.rater == ReviewClaim.rater,
                                                      ReviewAnswer.question == COMPLETING)
            session.execute(delete(ReviewClaim).where(ReviewClaim.item_id == item_id, ~completed.exists()))

    def restore(self, item_ids: list[str] | None = None) -> int:
        """Hand set-aside items out again (all, or those named), e.g. once a fault of the page that set them aside
        is fixed; they are checked again when handed out. How many were restored."""
        with writing(self.engine, "queue") as session:
            query = delete(ReviewSetAside)
            if item_ids is not None:
                query = query.where(ReviewSetAside.item_id.in_(item_ids))
            result = session.execute(query)
            return int(getattr(result, "rowcount", 0) or 0)

    def set_aside_items(self) -> dict[str, str]:
        """The items set aside, with why, by id."""
        with Session(self.engine) as session:
            return dict(session.execute(select(ReviewSetAside.item_id, ReviewSetAside.reason)
                                        .order_by(ReviewSetAside.item_id)).all())

    def item(self, item_id: str) -> QueueItem | None:
        """The item's dialogue as saved, without its meta (raters must not see the system); None if unknown."""
        with Session(self.engine) as session:
            record = session.get(DialogueRecord, item_id)
            if record is None:
                return None
            return QueueItem(record.id, {k: v for k, v in record.data.items() if k != "meta"})

    def systems(self) -> dict[str, str]:
        """Each item's system name, by item id."""
        with Session(self.engine) as session:
            return dict(session.execute(select(ReviewItem.id, ReviewItem.system)).all())

    # -- handing out ------------------------------------------------------------------------------------------
    def next_item(self, rater: str, now: datetime | None = None, skip: str | None = None) -> QueueItem | None:
        """An item this rater has not rated that still has a free rater slot; the most nearly finished first,
        so that complete sets of ratings build up. Taking the slot is one insert that the database's unique
        constraints make atomic: of two raters racing for the last slot, one gets it and the other moves on.
        `skip`: the item the rater is leaving unfinished (Next dialogue), never handed straight back; its claim
        stays theirs, so they can come back to it later."""
        now = now or datetime.now(UTC)
        with writing(self.engine, "queue") as session:
            done = self._rated_by(rater)
            completed = select(ReviewAnswer.id).where(ReviewAnswer.item_id == ReviewClaim.item_id,
                                                      ReviewAnswer.rater == ReviewClaim.rater,
                                                      ReviewAnswer.question == COMPLETING)
            session.execute(delete(ReviewClaim).where(ReviewClaim.claimed_at < now - CLAIM_FOR, ~completed.exists()))
            mine = session.scalar(select(ReviewClaim.item_id).where(ReviewClaim.rater == rater,
                                                                    ReviewClaim.item_id.not_in(done),
                                                                    ReviewClaim.item_id != (skip or ""),
                                                                    ReviewClaim.item_id.not_in(self._aside()))
                                  .order_by(ReviewClaim.claimed_at, ReviewClaim.item_id))
        if mine is not None and (shown := self._showable(mine)) is not None:
            return shown
        clashes = 0
        while clashes < HAND_OUT_ATTEMPTS:
            try:
                with writing(self.engine, "queue") as session:
                    picked = self._pick(session, rater)
                    if picked is None:
                        return None
                    session.add(ReviewClaim(item_id=picked[0], rater=rater, slot=picked[1], claimed_at=now))
            except (IntegrityError, SlotTaken):  # someone took that slot a moment ago
                clashes += 1
                continue
            if (shown := self._showable(picked[0])) is not None:
                return shown
            # (an item that cannot be shown was set aside: the loop ends, as each pass sets one aside or returns)
        return None

    def _showable(self, item_id: str) -> QueueItem | None:
        """The item, if it is a sound transcript; otherwise it is set aside with the reason (so the rater is
        handed the next one instead of this one again and again) and None."""
        found = self.item(item_id)
        try:
            if found is None:
                raise ValueError("its dialogue is not in the store")
            checked_transcript({**found.transcript, "meta": {}})
        except ValueError as error:
            self.set_aside(item_id, str(error))
            return None
        return found

    @staticmethod
    def _aside() -> Any:
        return select(ReviewSetAside.item_id)

    def _pick(self, session: Session, rater: str) -> tuple[str, int] | None:
        taken = select(ReviewClaim.item_id, func.count().label("n")).group_by(ReviewClaim.item_id).subquery()
        count = func.coalesce(taken.c.n, 0)
        mine = select(ReviewClaim.item_id).where(ReviewClaim.rater == rater)
        item = session.scalar(select(ReviewItem.id).outerjoin(taken, taken.c.item_id == ReviewItem.id)
                              .where(ReviewItem.id.not_in(mine), ReviewItem.id.not_in(self._aside()),
                                     count < self.raters_per_item)
                              .order_by(count.desc(), ReviewItem.created_at, ReviewItem.id).limit(1))
        if item is None:
            return None
        used = set(session.scalars(select(ReviewClaim.slot).where(ReviewClaim.item_id == item)))
        free = sorted(set(range(self.raters_per_item)) - used)
        if not free:  # filled between the two reads (PostgreSQL reads each statement afresh): try again
            raise SlotTaken(item)
        return item, free[0]

    def _raters(self) -> Any:
        """Per item, how many raters have rated it."""
        return (select(ReviewAnswer.item_id, func.count().label("n"))
                .where(ReviewAnswer.question == COMPLETING, ReviewAnswer.target == DIALOGUE_TARGET)
                .group_by(ReviewAnswer.item_id))

    def rated_items(self, rater: str) -> set[str]:
        """The items this rater has rated (answered the completing question of)."""
        with Session(self.engine) as session:
            return set(session.scalars(self._rated_by(rater)))

    def _rated_by(self, rater: str) -> Any:
        return select(ReviewAnswer.item_id).where(ReviewAnswer.rater == rater, ReviewAnswer.question == COMPLETING)

    def progress(self, rater: str) -> Progress:
        """The queue's progress for this rater."""
        with Session(self.engine) as session:
            counts = dict(session.execute(self._raters()).all())
            aside = set(session.scalars(self._aside()))
            items = [i for i in session.scalars(select(ReviewItem.id)) if i not in aside]
            rated = set(session.scalars(self._rated_by(rater)))
        needing = [i for i in items if counts.get(i, 0) < self.raters_per_item]
        return Progress(len(items), len(needing), sum(i not in rated for i in needing), len(rated & set(items)),
                        len(aside))

    # -- answers ----------------------------------------------------------------------------------------------
    def answer(self, item_id: str, rater: str, answers: dict[tuple[str, str], str],
               withdrawn: tuple[tuple[str, str], ...] = ()) -> None:
        """Save one rater's answers {(question, target): value} for an item in one transaction, and take back
        their answers to the `withdrawn` (question, target) pairs; answering again replaces. Raises ValueError
        (saving nothing) if any answer is not allowed or the rater's name is missing or too long."""
        rater = person_name(rater)
        checked = {(name, target): question(name).check(value) for (name, target), value in answers.items()}
        for _question, target in checked:
            if len(target) > EVENT_ID_LIMIT:
                raise ValueError(f"no reply {target[:50]!r}…: event ids are at most {EVENT_ID_LIMIT} characters")
        for attempt in range(3):  # the same rater answering in two tabs at once: the loser retries as an update
            try:
                self._write(item_id, rater, checked, withdrawn)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _write(self, item_id: str, rater: str, answers: dict[tuple[str, str], str],
               withdrawn: tuple[tuple[str, str], ...]) -> None:
        with writing(self.engine, "answer", item_id, rater) as session:
            if session.get(ReviewItem, item_id) is None:
                raise ValueError(f"no review item {item_id!r}")
            existing = {(a.question, a.target): a for a in session.scalars(
                select(ReviewAnswer).where(ReviewAnswer.item_id == item_id, ReviewAnswer.rater == rater))}
            for key in withdrawn:
                if key in existing and key not in answers:
                    session.delete(existing.pop(key))
            for (name, target), value in answers.items():
                if (name, target) in existing:
                    existing[name, target].value = value
                else:
                    session.add(ReviewAnswer(item_id=item_id, rater=rater, question=name, target=target, value=value))
            claimed = session.scalar(select(ReviewClaim.id).where(ReviewClaim.item_id == item_id,
                                                                  ReviewClaim.rater == rater))
            if claimed is None:  # rated without being handed the item (a link, a script): an extra slot
                top = session.scalar(select(func.max(ReviewClaim.slot)).where(ReviewClaim.item_id == item_id))
                session.add(ReviewClaim(item_id=item_id, rater=rater, slot=max(top or 0, self.raters_per_item - 1) + 1))

    def answers(self, item_id: str | None = None, rater: str | None = None) -> list[Answer]:
        """Every stored answer (or one item's, one rater's), oldest first."""
        query = select(ReviewAnswer).order_by(ReviewAnswer.id)
        if item_id is not None:
            query = query.where(ReviewAnswer.item_id == item_id)
        if rater is not None:
            query = query.where(ReviewAnswer.rater == rater)
        with Session(self.engine) as session:
            rows = session.scalars(query)
            return [Answer(r.item_id, r.rater, r.question, r.target, r.value) for r in rows]

    # -- adjudication -----------------------------------------------------------------------------------------
    def adjudicate(self, item_id: str, question_name: str, target: str, label: str, lead: str, note: str = "") -> None:
        """Save (or replace) the lead's final label for one answer unit; a ValueError for a bad label or no lead."""
        label = question(question_name).check(label)
        lead = person_name(lead, "the lead's name")
        with writing(self.engine, "adjudicate", item_id) as session:
            found = session.scalar(select(Adjudication).where(and_(Adjudication.item_id == item_id,
                                                                   Adjudication.question == question_name,
                                                                   Adjudication.target == target)))
            if found is None:
                session.add(Adjudication(item_id=item_id, question=question_name, target=target, label=label,
                                         lead=lead, note=note))
            else:
                found.label, found.lead, found.note = label, lead, note

    def adjudications(self) -> dict[tuple[str, str, str], str]:
        """Every final label the lead gave, by (item, question, target)."""
        with Session(self.engine) as session:
            return {(a.item_id, a.question, a.target): a.label for a in session.scalars(select(Adjudication))}


def _same_dialogue(stored: dict[str, Any], given: dict[str, Any]) -> bool:
    """Whether a stored record holds this dialogue (its meta aside, which a run may fill in later)."""
    return {k: v for k, v in stored.items() if k != "meta"} == {k: v for k, v in given.items() if k != "meta"}


def _source(source: str) -> str:
    label = storable(source.strip()) or "file"
    return label if len(label) <= SOURCE_LIMIT else label[:SOURCE_LIMIT]
