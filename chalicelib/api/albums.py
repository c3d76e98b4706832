"""Albums, members, favorites, comments and events (docs/kheops-compatibility.md §5, §7)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib import booleans
from chalicelib.api import responses
from chalicelib.api.routing import FORM, form_last_values, page, query_lists, query_value, route
from chalicelib.auth import policy
from chalicelib.dicom.deid_profile import OPTION_FIELDS
from chalicelib.events import audit
from chalicelib.serializers import albums as album_json
from chalicelib.serializers import research as research_json
from chalicelib.serializers.albums import FLAG_FIELDS
from chalicelib.services import album_events, album_members, albums, research

bp = Blueprint(__name__)


def album_form(values: dict[str, str]) -> albums.AlbumForm:
    """`POST /albums` and `PATCH /albums/{album}` (one value per field, the last sent) as an AlbumForm."""
    def sent(names) -> dict[str, str]:
        return {name: values[name] for name in names if name in values}
    return albums.AlbumForm(name=values.get("name"), description=values.get("description"),
                            flags=sent(FLAG_FIELDS), notifications=sent(albums.NOTIFICATION_FIELDS),
                            research=sent([research.RESEARCH_FIELD, *OPTION_FIELDS]))


def album_query(values: dict[str, str]) -> albums.AlbumQuery:
    """`GET /albums`'s filters and sort (one value per parameter, the last sent) as an AlbumQuery."""
    return albums.AlbumQuery(
        favorite=values.get("favorite"), can_add_series=values.get("canAddSeries"),
        can_create_capability_token=values.get("canCreateCapabilityToken"), name=values.get("name"),
        fuzzy_matching=values.get("fuzzymatching"), sort=values.get("sort"),
        created_time=values.get("created_time"), last_event_time=values.get("last_event_time"),
        modality=values.get("modality"))


def _album_form() -> albums.AlbumForm:
    return album_form(form_last_values(bp.current_request))


def _page(items: list) -> object:
    shown = page(bp.current_request)
    return responses.json_body(items[shown.offset: shown.offset + shown.limit],
                               headers={"X-Total-Count": str(len(items))})


@route(bp, "/albums", methods=["POST"], content_types=FORM)
def create_album(caller):
    album = albums.create(caller, _album_form())
    return responses.json_body(album_json.answer(albums.get(caller, album.album_id, False)), status=201)


@route(bp, "/albums", methods=["GET"])
def list_albums(caller):
    request = bp.current_request
    params = {k: v[-1] for k, v in query_lists(request).items() if v}
    listed, total = albums.list_albums(caller, album_query(params), page(request))
    return responses.json_body([album_json.answer(view) for view in listed], headers={"X-Total-Count": str(total)})


@route(bp, "/albums/{album}", methods=["GET"])
def get_album(caller, album):
    request = bp.current_request
    include = booleans.parse(query_value(request, "includeUsers"), "includeUsers", False)
    return responses.json_body(album_json.answer(albums.get(caller, album, include)))


@route(bp, "/albums/{album}", methods=["PATCH"], content_types=FORM)
def edit_album(caller, album):
    return responses.json_body(album_json.answer(albums.edit(caller, album, _album_form())))


@route(bp, "/albums/{album}", methods=["DELETE"])
def delete_album(caller, album):
    albums.delete(caller, album)
    return responses.no_content()


@route(bp, "/albums/{album}/users", methods=["GET"])
def list_album_users(caller, album):
    return _page(album_members.list_users(caller, album))


@route(bp, "/albums/{album}/users/{user}", methods=["PUT"])
def add_album_user(caller, album, user):
    album_members.add_user(caller, album, user)
    return responses.created()


@route(bp, "/albums/{album}/users/{user}", methods=["DELETE"])
def remove_album_user(caller, album, user):
    album_members.remove_user(caller, album, user)
    return responses.no_content()


@route(bp, "/albums/{album}/users/{user}/admin", methods=["PUT"])
def add_album_admin(caller, album, user):
    album_members.add_user(caller, album, user, as_admin=True)
    return responses.no_content()


@route(bp, "/albums/{album}/users/{user}/admin", methods=["DELETE"])
def remove_album_admin(caller, album, user):
    album_members.demote(caller, album, user)
    return responses.no_content()


@route(bp, "/albums/{album}/favorites", methods=["PUT"])
def favorite_album(caller, album):
    album_members.set_favorite(caller, album, True)
    return responses.no_content()


@route(bp, "/albums/{album}/favorites", methods=["DELETE"])
def unfavorite_album(caller, album):
    album_members.set_favorite(caller, album, False)
    return responses.no_content()


@route(bp, "/albums/{album}/comments", methods=["POST"], content_types=FORM)
def comment_album(caller, album):
    values = form_last_values(bp.current_request)
    album_events.post_comment(caller, album, values.get("comment"), values.get("to_user"))
    return responses.no_content()


@route(bp, "/albums/{album}/events", methods=["GET"])
def album_event_list(caller, album):
    request = bp.current_request
    return _page(album_events.list_events(caller, album, query_lists(request)))


@route(bp, "/albums/{album}/reads", methods=["GET"])
def album_reads(caller, album):
    """The read audit trail of the album's series, for its admins."""
    policy.require_audit_reader(caller, album)
    shown = page(bp.current_request)
    items, total = audit.reads_of(album, shown.limit, shown.offset)
    return responses.json_body(items, headers={"X-Total-Count": str(total)})


@route(bp, "/albums/{album}/held", methods=["GET"])
def research_held_series(caller, album):
    """A research album's series waiting for an admin's release (docs/research-albums.md)."""
    return _page(research_json.held_series(research.list_held(caller, album)))


@route(bp, "/albums/{album}/held/{hold}/release", methods=["POST"])
def research_release_series(caller, album, hold):
    research.release(caller, album, hold)
    return responses.no_content()
