"""Per-study favorites and comments (docs/kheops-compatibility.md §7). Studies the caller cannot see
answer 404 here too (KHEOPS answered 403: quirk 8, fixed)."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import USER, Principal
from chalicelib.errors import BadFormParameter, BadQueryParameter, SeriesNotFound, StudyNotFound, UserNotFound
from chalicelib.serializers import comments as comment_json
from chalicelib.services import users
from chalicelib.store import studies
from chalicelib.store.models import SeriesShare, StudyComment


def set_favorite(principal: Principal, study_uid: str, series_uid: str | None, album: str | None,
                 inbox: str | None, favorite: bool) -> None:
    policy.require_action(principal, policy.CHANGE)
    if (album is None) == (inbox is None):
        raise BadQueryParameter("give exactly one of album and inbox")
    source = policy.parse_source(album, inbox)
    if source.album_id:
        policy.require_album_permission(principal, source.album_id, policy.EDIT_FAVORITES)
    visible = policy.readable_series(principal, study_uid, source)
    targets = [s for uid, held in visible.items() if series_uid in (None, uid) for s in held]
    if not targets:
        raise (SeriesNotFound if series_uid else StudyNotFound)("not visible in that album or inbox")
    for share in targets:
        share.update(actions=[SeriesShare.favorite.set(favorite)], condition=SeriesShare.pk.exists())


def post_comment(principal: Principal, study_uid: str, comment: str | None, to_user: str | None) -> None:
    """A comment keeps the series its author reads now: its readers must read all of them
    (`policy.comment_reader`). A private comment goes only to a user who reads them all (404
    otherwise): the answer depends only on series the author reads, so it tells nothing of what
    else the user holds."""
    policy.require_action(principal, policy.CHANGE)
    read_now = policy.authorize_study_read(principal, study_uid)
    if not comment or len(comment) > 1024:
        raise BadFormParameter("comment must be 1 to 1024 characters")
    target_sub = None
    if to_user:
        target = users.find_user(to_user)
        if not set(read_now) <= set(policy.readable_series(Principal(kind=USER, user=target), study_uid)):
            raise UserNotFound("the user cannot see this study")
        target_sub = target.sub
    moment = clock.local_iso()
    StudyComment(*StudyComment.key(study_uid, moment, clock.random_id(12)), study_uid=study_uid,
                 author_sub=principal.sub, comment=comment, post_date=moment, target_sub=target_sub,
                 series_uids=set(read_now)).save()


def list_comments(principal: Principal, study_uid: str) -> list[dict]:
    policy.require_action(principal, policy.READ_COMMENTS)
    policy.authorize_study_read(principal, study_uid)
    readable = policy.comment_reader(principal, study_uid)
    comments = [c for c in studies.comments_newest_first(study_uid) if readable(c)]
    profiles = {u.sub: u for u in users.get_users([s for c in comments for s in (c.author_sub, c.target_sub) if s])}
    return [comment_json.comment(c, profiles) for c in comments]
