"""The destinations a server knows, by their configuration `type`: the only place a destination is named to the
layers above the kit (configuration, pipeline, server, command line)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .definition import Destination, SourcePreset


class UnknownDestination(KeyError):
    """A configuration `type` no registered destination has."""


class Registry:
    """Destinations by `type`, in registration order; the first is the default `type`."""

    def __init__(self, destinations: Iterable[Destination] = ()) -> None:
        self._by_type: dict[str, Destination] = {}
        for destination in destinations:
            self.register(destination)

    def register(self, destination: Destination) -> Destination:
        if not destination.type:
            raise ValueError(f"destination {destination.name!r} has no type")
        if destination.type in self._by_type:
            raise ValueError(f"a destination of type {destination.type!r} is already registered")
        self._by_type[destination.type] = destination
        return destination

    def unregister(self, type_: str) -> None:
        self._by_type.pop(type_, None)

    def get(self, type_: str) -> Destination:
        try:
            return self._by_type[type_]
        except KeyError:
            raise UnknownDestination(type_) from None

    def __contains__(self, type_: object) -> bool:
        return type_ in self._by_type

    def __iter__(self) -> Iterator[Destination]:
        return iter(list(self._by_type.values()))

    @property
    def types(self) -> list[str]:
        return list(self._by_type)

    @property
    def default(self) -> Destination:
        return next(iter(self._by_type.values()))

    def unknown_message(self, type_: object) -> str:
        return f"unknown destination type {type_!r}; this server has {', '.join(self.types) or 'none'}"

    def source_preset(self, name: str) -> SourcePreset | None:
        """The webhook source preset of that name, from whichever destination declares it."""
        return next((p for d in self for p in d.source_presets if p.name == name), None)

    @property
    def source_preset_names(self) -> list[str]:
        return [p.name for d in self for p in d.source_presets]
