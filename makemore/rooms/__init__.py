"""Class rooms: a teacher opens a room, students join it with a code, and every training a member
finishes lands on the room's board. Stored in SQL through SQLAlchemy (store.py): a SQLite file by
default, or a school's PostgreSQL server.

    store = RoomStore()                                # MAKEMORE_DB_URL, else a SQLite file in the cache
    opened = store.create_room("Lecture 2, Tuesday")   # opened.code, opened.teacher_key
    me = store.join(opened.code, "ada")                # me.token brings the student back later
    store.post_run(opened.code, me.token, posted)      # a result the server itself trained, to its last step
    poll = store.open_poll(opened.code, opened.teacher_key, ...)  # predict, then train
    store.predict(opened.code, me.token, poll, 2.3)
    store.board(opened.code)                           # leaderboards, runs, challenges, polls
"""

__all__ = ["Board", "Challenge", "Member", "NewRoom", "Poll", "PostedRun", "Prediction", "Room", "RoomError", "RoomRun",
           "RoomStore", "default_url"]


def __getattr__(name: str):
    # The store brings SQLAlchemy (0.3 s): its names are read from it when first used, so that the
    # room's links and text helpers (every page's sidebar) import without it.
    if name in __all__:
        from makemore.rooms import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
