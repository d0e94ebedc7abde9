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

from app.workbench.agreement import Answer
from app.workbench.questions import DIALOGUE_TARGET, question
from app.workbench.tables import (
    Adjudication,
    ReviewAnswer,
    ReviewClaim,
    ReviewItem,
    create_workbench_tables,
    system_of,
    writing,
)
from db.schema import DialogueRecord

CLAIM_FOR = timedelta(minutes=30)
HAND_OUT_ATTEMPTS = 20
COMPLETING = "task_completed"  # answering this dialogue-level question is what makes an item rated by a rater


class SlotTaken(Exception):
    """The slot chosen for a rater went to another rater first."""


@dataclass(frozen=True)
class Progress:
    """How far the queue is, overall and for one rater."""

    items: int
    needing_raters: int  # items with fewer than N raters
    left_for_rater: int  # of those, the ones this rater has not rated
    rated_by_rater: int

    def text(self) -> str:
        """The progress as one line for the rater."""
        return (f"{self.left_for_rater} of {self.items} left for you · you rated {self.rated_by_rater} · "
                f"{self.needing_raters} still need raters")


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
        """Make a dialogue an item (saving it when it is not stored yet); False if it already was one."""
        with writing(self.engine, "item", dialogue_id) as session:
            if session.get(ReviewItem, dialogue_id) is not None:
                return False
            if session.get(DialogueRecord, dialogue_id) is None:
                session.add(DialogueRecord(id=dialogue_id, data=transcript, meta=meta))
            session.add(ReviewItem(id=dialogue_id, source=source, system=system_of(meta)))
        return True

    def enqueue_recorded(self, source: str = "live") -> int:
        """Every saved dialogue that is not an item yet becomes one (live chats, arena sides)."""
        with writing(self.engine, "queue") as session:
            known = select(ReviewItem.id)
            records = session.scalars(select(DialogueRecord).where(DialogueRecord.id.not_in(known))).all()
            for record in records:
                session.add(ReviewItem(id=record.id, source=record.meta.get("source", source),
                                       system=system_of(record.meta or {})))
            return len(records)

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
    def next_item(self, rater: str, now: datetime | None = None) -> QueueItem | None:
        """An item this rater has not rated that still has a free rater slot; the most nearly finished first,
        so that complete sets of ratings build up. Taking the slot is one insert that the database's unique
        constraints make atomic: of two raters racing for the last slot, one gets it and the other moves on."""
        now = now or datetime.now(UTC)
        with writing(self.engine, "queue") as session:
            done = self._rated_by(rater)
            completed = select(ReviewAnswer.id).where(ReviewAnswer.item_id == ReviewClaim.item_id,
                                                      ReviewAnswer.rater == ReviewClaim.rater,
                                                      ReviewAnswer.question == COMPLETING)
            session.execute(delete(ReviewClaim).where(ReviewClaim.claimed_at < now - CLAIM_FOR, ~completed.exists()))
            mine = session.scalar(select(ReviewClaim.item_id).where(ReviewClaim.rater == rater,
                                                                    ReviewClaim.item_id.not_in(done)))
        if mine is not None:
            return self.item(mine)
        for _attempt in range(HAND_OUT_ATTEMPTS):
            try:
                with writing(self.engine, "queue") as session:
                    picked = self._pick(session, rater)
                    if picked is None:
                        return None
                    session.add(ReviewClaim(item_id=picked[0], rater=rater, slot=picked[1], claimed_at=now))
                return self.item(picked[0])
            except (IntegrityError, SlotTaken):  # someone took that slot a moment ago
                continue
        return None

    def _pick(self, session: Session, rater: str) -> tuple[str, int] | None:
        taken = select(ReviewClaim.item_id, func.count().label("n")).group_by(ReviewClaim.item_id).subquery()
        count = func.coalesce(taken.c.n, 0)
        mine = select(ReviewClaim.item_id).where(ReviewClaim.rater == rater)
        item = session.scalar(select(ReviewItem.id).outerjoin(taken, taken.c.item_id == ReviewItem.id)
                              .where(ReviewItem.id.not_in(mine), count < self.raters_per_item)
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

    def _rated_by(self, rater: str) -> Any:
        return select(ReviewAnswer.item_id).where(ReviewAnswer.rater == rater, ReviewAnswer.question == COMPLETING)

    def progress(self, rater: str) -> Progress:
        """The queue's progress for this rater."""
        with Session(self.engine) as session:
            counts = dict(session.execute(self._raters()).all())
            items = session.scalars(select(ReviewItem.id)).all()
            rated = set(session.scalars(self._rated_by(rater)))
        needing = [i for i in items if counts.get(i, 0) < self.raters_per_item]
        return Progress(len(items), len(needing), sum(i not in rated for i in needing), len(rated))

    # -- answers ----------------------------------------------------------------------------------------------
    def answer(self, item_id: str, rater: str, answers: dict[tuple[str, str], str]) -> None:
        """Save one rater's answers {(question, target): value} for an item in one transaction; answering
        again replaces. Raises ValueError (saving nothing) if any answer is not allowed."""
        rater = rater.strip()
        if not rater:
            raise ValueError("Please enter your name first: ratings are counted per rater.")
        checked = {(name, target): question(name).check(value) for (name, target), value in answers.items()}
        for attempt in range(3):  # the same rater answering in two tabs at once: the loser retries as an update
            try:
                self._write(item_id, rater, checked)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _write(self, item_id: str, rater: str, answers: dict[tuple[str, str], str]) -> None:
        with writing(self.engine, "answer", item_id, rater) as session:
            if session.get(ReviewItem, item_id) is None:
                raise ValueError(f"no review item {item_id!r}")
            existing = {(a.question, a.target): a for a in session.scalars(
                select(ReviewAnswer).where(ReviewAnswer.item_id == item_id, ReviewAnswer.rater == rater))}
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
        if not lead.strip():
            raise ValueError("Please enter the lead's name.")
        with writing(self.engine, "adjudicate", item_id) as session:
            found = session.scalar(select(Adjudication).where(and_(Adjudication.item_id == item_id,
                                                                   Adjudication.question == question_name,
                                                                   Adjudication.target == target)))
            if found is None:
                session.add(Adjudication(item_id=item_id, question=question_name, target=target, label=label,
                                         lead=lead.strip(), note=note))
            else:
                found.label, found.lead, found.note = label, lead.strip(), note

    def adjudications(self) -> dict[tuple[str, str, str], str]:
        """Every final label the lead gave, by (item, question, target)."""
        with Session(self.engine) as session:
            return {(a.item_id, a.question, a.target): a.label for a in session.scalars(select(Adjudication))}
