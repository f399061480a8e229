"""Class rooms: a teacher opens a room, students join it with a code, and every training a member
finishes lands on the room's board. Stored in SQL through SQLAlchemy (store.py): a SQLite file by
default, or a school's PostgreSQL server.

    store = RoomStore()                                # MAKEMORE_DB_URL, else a SQLite file in the cache
    opened = store.create_room("Lecture 2, Tuesday")   # opened.code, opened.teacher_key
    me = store.join(opened.code, "ada")                # me.token brings the student back later
    store.post_run(me.token, posted)                   # a result the server itself trained
    store.board(opened.code)                           # leaderboards, runs, challenges
"""

from makemore.rooms.store import (
                                  Board,
                                  Member,
                                  NewRoom,
                                  PostedRun,
                                  Room,
                                  RoomError,
                                  RoomRun,
                                  RoomStore,
                                  default_url,
)

__all__ = ["Board", "Member", "NewRoom", "PostedRun", "Room", "RoomError", "RoomRun", "RoomStore", "default_url"]
