"""Album membership: add, remove, leave, promote, demote, favorites (docs/kheops-compatibility.md §5)."""
from __future__ import annotations

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import UserNotFound
from chalicelib.events import mutations
from chalicelib.services import albums, capabilities, users
from chalicelib.store import albums as album_items
from chalicelib.store import shares
from chalicelib.store.models import AlbumMember, transact


def _members(album_id: str) -> list[AlbumMember]:
    return album_items.members(album_id)


def list_users(principal: Principal, album_id: str) -> list[dict]:
    policy.require_user_access(principal)
    policy.require_album_permission(principal, album_id, policy.LIST_USERS)
    members = _members(album_id)
    return albums.member_responses(members)


def _save(member: AlbumMember, event, condition=None) -> bool:
    """Writes a membership change and its event together; False when the condition failed."""
    try:
        with transact() as transaction:
            transaction.save(member, condition=condition)
            transaction.save(event)
    except TransactWriteError:
        return False
    mutations.publish(event)
    return True


def add_user(principal: Principal, album_id: str, reference: str, as_admin: bool = False) -> None:
    policy.require_member_adder(principal, album_id, as_admin)
    target = users.find_user(reference)
    policy.require_addable_member(principal, target.sub)
    existing = shares.membership(album_id, target.sub)
    if existing is not None:
        if as_admin and not existing.is_admin:
            existing.is_admin = True
            _save(existing, mutations.mutation_event(album_id, "PROMOTE_ADMIN", principal, target_sub=target.sub))
        return
    member = AlbumMember(*AlbumMember.key(album_id, target.sub), member_sub=target.sub, is_admin=as_admin,
                         joined_at=clock.local_iso())
    event = mutations.mutation_event(album_id, "ADD_ADMIN" if as_admin else "ADD_USER", principal,
                                     target_sub=target.sub)
    _save(member, event, condition=AlbumMember.pk.does_not_exist())


def demote(principal: Principal, album_id: str, reference: str) -> None:
    policy.require_user_access(principal)
    policy.require_album_permission(principal, album_id, policy.REMOVE_ADMIN)
    target = users.find_user(reference)
    member = shares.membership(album_id, target.sub)
    if member is None:
        raise UserNotFound("the user is not a member of this album")
    if member.is_admin:
        member.is_admin = False
        _save(member, mutations.mutation_event(album_id, "DEMOTE_ADMIN", principal, target_sub=target.sub),
              condition=AlbumMember.pk.exists())
        capabilities.revoke_created_by(target.sub, album_id, principal)


def remove_user(principal: Principal, album_id: str, reference: str) -> None:
    """Leaving (yourself) or removing (an admin removes someone); the last member out deletes
    the album."""
    access = policy.require_member_remover(principal, album_id)
    target = users.find_user(reference)
    policy.require_removable_member(access, target.sub)
    leaving = target.sub == principal.sub
    member = shares.membership(album_id, target.sub)
    if member is None:
        raise UserNotFound("the user is not a member of this album")
    event = mutations.mutation_event(album_id, "LEAVE_ALBUM" if leaving else "REMOVE_USER", principal,
                                     target_sub=target.sub)
    with transact() as transaction:
        transaction.delete(member, condition=AlbumMember.pk.exists())
        transaction.save(event)
    mutations.publish(event)
    if member.is_admin:
        capabilities.revoke_created_by(target.sub, album_id, principal)
    if not _members(album_id):
        albums.remove_album(access.album, principal)


def set_favorite(principal: Principal, album_id: str, favorite: bool) -> None:
    policy.require_action(principal, policy.CHANGE)
    access = policy.album_access(principal, album_id)
    access.membership.update(actions=[AlbumMember.is_favorite.set(favorite)], condition=AlbumMember.pk.exists())
