"""The text a recording leaves behind: chat CSV, transcripts (txt, srt, json) and the summary, in the documented forms.

Formats (issue 18):

- chat: https://www.100ms.live/docs/get-started/v2/get-started/features/recordings/chat-recording - header
  ``SenderPeerID,SenderName,SenderUserID,Roles,SentAt,Type,Message``, ``Roles`` ``[]`` for a broadcast, ``SentAt``
  RFC 3339, ``Type`` ``chat``.
- transcripts and summary: https://www.100ms.live/docs/server-side/v2/how-to-guides/enable-transcription-and-summary
  ("Example Output Files") - ``Name: sentence`` paragraphs (txt), numbered SRT cues with the speaker label, JSON
  ``{"words": [...], "sentences": [...]}`` with ``name``, ``peer_id`` and millisecond ``start_time``/``end_time``
  strings, and ``{"summary": {"sections": [{"title", "format", "bullets", "paragraph"}]}}``.

Everything is generated from a :class:`Meeting`, a seeded script of who said what and when, so the same asset always
downloads the same bytes and its ``size`` is known when the asset is created. Scripts are bounded (at most
:data:`MAX_SENTENCES` sentences and :data:`MAX_CHAT_MESSAGES` chat rows, whatever the duration).
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from dataclasses import dataclass

from .clock import format_timestamp

__all__ = [
    "CHAT_HEADER",
    "DEFAULT_SUMMARY_SECTIONS",
    "MAX_CHAT_MESSAGES",
    "MAX_SENTENCES",
    "Meeting",
    "chat_csv",
    "summary_json",
    "transcript_json",
    "transcript_srt",
    "transcript_txt",
]

CHAT_HEADER = ("SenderPeerID", "SenderName", "SenderUserID", "Roles", "SentAt", "Type", "Message")
#: The template defaults the docs list for a dashboard-enabled summary (same page, "Dashboard Implementation").
DEFAULT_SUMMARY_SECTIONS: tuple[tuple[str, str], ...] = (
    ("Agenda", "bullets"),
    ("Key Points Discussed", "bullets"),
    ("Follow Up Action Items", "bullets"),
    ("Short Summary", "paragraph"),
)
MAX_SENTENCES = 2_000
MAX_CHAT_MESSAGES = 500

_NAMES = ("Asha", "Ben", "Chloe", "Dev", "Elena", "Farid")
_ROLES = ("host", "guest")
_SENTENCES = (
    "Thanks everyone for joining today.",
    "Let's start with a quick look at the agenda.",
    "The release is on track for the end of the month.",
    "I reviewed the test results this morning, and they look good.",
    "Can we go back to the budget numbers for a moment?",
    "I think we should ship the smaller change first.",
    "The customer asked for a demo next week.",
    "Who can own the follow-up with the design team?",
    "I'll take that action item.",
    "We saw a spike in errors on Tuesday, but it is fixed now.",
    "Let's keep the retrospective short this time.",
    "Does anyone have questions before we move on?",
    "The new onboarding flow cut sign-up time in half.",
    "I'd like to get feedback on the proposal by Friday.",
    "That makes sense to me.",
    "Let's schedule a separate call for the migration plan.",
)
_CHATS = (
    "Hi all!",
    "Can you share the slides?",
    "Link to the doc is in the calendar invite",
    "+1, agreed",
    "Sorry, my audio dropped for a second",
    "Great, thanks",
    "I have a hard stop at the hour, by the way",
    'Quick note: the "beta" flag is still on',
)
_TOPICS = (
    "release timeline",
    "test results",
    "budget review",
    "customer demo",
    "error spike on Tuesday",
    "onboarding flow",
    "migration plan",
)


@dataclass(frozen=True, slots=True)
class Speaker:
    name: str
    peer_id: str
    user_id: str
    role: str


@dataclass(frozen=True, slots=True)
class Sentence:
    speaker: Speaker
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class Meeting:
    """What a recording captured, derived only from the recording's id, start time and duration (so: stable)."""

    recording_id: str
    started_at: float
    duration: int
    sections: tuple[tuple[str, str], ...] = DEFAULT_SUMMARY_SECTIONS

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.recording_id}:{purpose}")

    def speakers(self) -> list[Speaker]:
        rng = self.rng("speakers")
        names = rng.sample(_NAMES, 2 + rng.randrange(2))
        return [
            Speaker(name, str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"user-{name.lower()}", _ROLES[i > 0])
            for i, name in enumerate(names)
        ]

    def sentences(self) -> list[Sentence]:
        """One sentence every 4-12 s of the recording, alternating speakers, at most :data:`MAX_SENTENCES`."""
        rng = self.rng("sentences")
        speakers = self.speakers()
        end_ms = self.duration * 1000
        at = 1_000 + rng.randrange(1_000)
        out: list[Sentence] = []
        current = 0
        while at + 2_000 <= end_ms and len(out) < MAX_SENTENCES:
            text = rng.choice(_SENTENCES)
            length = min(end_ms - at, 1_500 + 300 * len(text.split()) + rng.randrange(1_500))
            out.append(Sentence(speakers[current], text, at, at + length))
            at += length + 500 + rng.randrange(3_000)
            if rng.random() < 0.7:
                current = (current + 1 + rng.randrange(len(speakers) - 1)) % len(speakers)
        return out


def transcript_txt(meeting: Meeting) -> bytes:
    lines = [f"{s.speaker.name}: {s.text}\n" for s in meeting.sentences()]
    return "\n".join(lines).encode()


def _srt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1_000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def transcript_srt(meeting: Meeting) -> bytes:
    cues = [
        f"{i}\n{_srt_time(s.start_ms)} --> {_srt_time(s.end_ms)}\n{s.speaker.name}: {s.text}\n"
        for i, s in enumerate(meeting.sentences(), start=1)
    ]
    return "\n".join(cues).encode()


def transcript_json(meeting: Meeting) -> bytes:
    words: list[dict[str, str]] = []
    sentences: list[dict[str, str]] = []
    for s in meeting.sentences():
        who = {"name": s.speaker.name, "peer_id": s.speaker.peer_id}
        tokens = s.text.split()
        step = (s.end_ms - s.start_ms) // len(tokens)
        for index, token in enumerate(tokens):
            start = s.start_ms + index * step
            word = token.strip(".,?!")
            words.append({"word": word, **who, "start_time": str(start), "end_time": str(start + step - 20)})
        sentences.append({"sentence": s.text, **who, "start_time": str(s.start_ms), "end_time": str(s.end_ms)})
    return json.dumps({"words": words, "sentences": sentences}, indent=2).encode()


def summary_json(meeting: Meeting) -> bytes:
    """The requested sections in order; ``bullets`` sections get bullets and ``""``, ``paragraph`` ones the reverse."""
    rng = meeting.rng("summary")
    names = [s.name for s in meeting.speakers()]
    sections = []
    for title, fmt in meeting.sections:
        topics = rng.sample(_TOPICS, 2 + rng.randrange(2))
        if fmt == "bullets":
            bullets = [f"{topic[0].upper()}{topic[1:]} ({rng.choice(names)})" for topic in topics]
            sections.append({"title": title, "format": fmt, "bullets": bullets, "paragraph": ""})
        else:
            paragraph = f"{', '.join(names)} discussed the {', the '.join(topics)}."
            sections.append({"title": title, "format": fmt, "bullets": [], "paragraph": paragraph})
    return json.dumps({"summary": {"sections": sections}}, indent=2).encode()


def chat_csv(meeting: Meeting) -> bytes:
    """A broadcast message every 10-60 s (the header alone for a very short recording)."""
    rng = meeting.rng("chat")
    speakers = meeting.speakers()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CHAT_HEADER)
    at = 3 + rng.randrange(10)
    count = 0
    while at < meeting.duration and count < MAX_CHAT_MESSAGES:
        who = rng.choice(speakers)
        roles = "[]" if rng.random() < 0.8 else f"[{rng.choice(_ROLES)}]"
        sent = format_timestamp(meeting.started_at + at + rng.randrange(1_000) / 1_000)
        writer.writerow((who.peer_id, who.name, who.user_id, roles, sent, "chat", rng.choice(_CHATS)))
        at += 10 + rng.randrange(50)
        count += 1
    return buffer.getvalue().encode()
