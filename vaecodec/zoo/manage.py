"""The user's model store as library calls: where a family's file goes (``family_path``),
installing one (``install_family``: a family file's bytes, as ``vaecodec models import``
and ``vaecodec train`` do), removing one (``remove_family``). Each write holds the
name's lock (``fsio.WriteLock``): the checks and the write are one step for each writer.

    from vaecodec.zoo import manage
    manage.install_family(open("scans.vaem", "rb").read())   # -> the file in the store
    manage.remove_family("scans")
"""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputExistsError, SettingsError, UnknownModelError
from ..format import family as family_format
from ..fsio import WriteLock, atomic_write_bytes
from . import families
from .defaults import DEFAULT_FAMILY
from .store import Zoo


def check_family_name(name: str) -> None:
    """A family's name must make a safe file name: ``SettingsError`` otherwise."""
    if not isinstance(name, str) or not family_format.NAME.fullmatch(name):
        raise SettingsError(f"{name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")


def family_path(name: str) -> Path:
    """The file of family ``name`` in the model store (it may not exist)."""
    check_family_name(name)
    return families.store_dir() / f"{name}{families.SUFFIX}"


def check_new_family(name: str, force: bool = False) -> Path:
    """Where a family trained as ``name`` goes, checked before any training: not a
    shipped name, and not a family in the store unless ``force``."""
    target = family_path(name)
    if Zoo.installed().name_taken(name):
        raise SettingsError(f"the name {name} is taken by a shipped model or family; "
                            "choose another")
    if target.exists() and not force:
        raise OutputExistsError(f"a model named {name} exists ({target}); use --force to "
                                "replace it")
    return target


def install_family(data: bytes, *, force: bool = False, source: str | Path | None = None
                   ) -> Path:
    """Install the family in ``data`` (a .vaem file's bytes; ``source`` names it in
    errors) into the model store; returns its path there. An installed family of the
    same name is replaced only with ``force``; a shipped one never; its models' names must
    be new to the installed ones."""
    family, models, levels = families.from_bytes(data, source)
    if family.name == DEFAULT_FAMILY:
        raise SettingsError(f"the name {DEFAULT_FAMILY} is the shipped family's")
    target = family_path(family.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with WriteLock(target).acquire():  # the checks and the write, one writer at a time
        installed = Zoo.installed()
        shipped = {f.name for f in installed.families()}
        if (target.exists() or family.name in shipped) and not force:
            where = target if target.exists() else "shipped with vaecodec"
            raise OutputExistsError(f"a model family named {family.name} exists ({where}); "
                                    "use --force to replace it")
        # its models' names must be new too (a renamed export of an installed family):
        # else every later command would fail on the clash
        installed.with_family(family, models, levels)
        atomic_write_bytes(target, families.to_bytes(family, models, levels), force)
    return target


def install_trained(name: str, data: bytes, *, force: bool = False) -> Path:
    """Write a family just trained (``train.family.train_family``'s bytes) as ``name``."""
    target = family_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with WriteLock(target).acquire():  # one writer of the name at a time
        atomic_write_bytes(target, data, force)
    return target


def remove_family(name: str) -> Path:
    """Delete family ``name`` from the model store (files made with it no longer decode
    here until it is installed again); returns the path it had."""
    if name == DEFAULT_FAMILY:
        raise SettingsError(f"{DEFAULT_FAMILY} ships with vaecodec and cannot be removed")
    target = family_path(name)
    missing = UnknownModelError(f"no model family named {name} in {target.parent}")
    if not target.is_file():  # (a store that does not exist has no room for a lock)
        raise missing
    with WriteLock(target).acquire():
        if not target.is_file():
            raise missing
        target.unlink()
    return target


def export_family(name: str, file: str | Path, *, force: bool = False) -> None:
    """Write installed family ``name`` to ``file`` (.vaem): all it takes to decode its
    files elsewhere (``install_family`` there)."""
    if name == DEFAULT_FAMILY:
        raise SettingsError(f"{DEFAULT_FAMILY} ships with every vaecodec; there is nothing "
                            "to export")
    atomic_write_bytes(file, Zoo.installed().family_file(name), force)
