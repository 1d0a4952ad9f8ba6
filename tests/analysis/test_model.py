"""Reference models: JSON round trip, validation, storage, training commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.analysis import (
    ReferenceModel,
    analyse,
    builtin,
    ensure_model,
    generate_training_set,
    load_newest_model,
    train_command,
    train_from_folder,
)
from app.analysis.generator import generate_drawing
from app.storage.local import LocalStorage


def test_json_round_trip(model: ReferenceModel) -> None:
    again = ReferenceModel.from_json(model.to_json())
    assert again.to_json() == model.to_json()
    assert again.version == model.version and again.n_samples == model.n_samples == 120
    img = generate_drawing(9, "6-8", long_side=400).image
    assert analyse(img, "6-8", again).to_dict() | {"processing_ms": 0} == analyse(
        img, "6-8", model
    ).to_dict() | {"processing_ms": 0}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: "not json",
        lambda d: json.dumps({**d, "schema": 99}),
        lambda d: json.dumps({**d, "groups": {k: v for k, v in d["groups"].items() if k != "6-8"}}),
        lambda d: json.dumps({**d, "version": "../../etc"}),
        lambda d: json.dumps(d).replace('"scale": ', '"scale": -'),
        lambda d: json.dumps(d).replace('"on": "log', '"on": "linear'),
        lambda d: json.dumps({**d, "groups": {**d["groups"], "6-8": {}}}),
    ],
)
def test_malformed_models_are_refused(model: ReferenceModel, mangle: object) -> None:
    text = mangle(model.to_dict())  # type: ignore[operator]
    with pytest.raises(ValueError):
        ReferenceModel.from_json(text)


def test_newest_model_wins_and_broken_ones_are_skipped(
    model: ReferenceModel, storage: LocalStorage
) -> None:
    assert load_newest_model(storage) is None
    storage.put(f"models/{model.version}.json", model.to_json(), "application/json")
    storage.put("models/20000101T000000Z-old.json", b"{}", "application/json")
    assert load_newest_model(storage) is not None
    assert load_newest_model(storage).version == model.version  # type: ignore[union-attr]
    storage.put("models/29990101T000000Z-broken.json", b"{broken", "application/json")
    assert load_newest_model(storage).version == model.version  # type: ignore[union-attr]


def test_ensure_model_trains_once(
    storage: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the shipped file (a broken build), the model is trained and stored once.
    monkeypatch.setattr(builtin, "BUILTIN_MODEL_FILE", tmp_path / "missing.json")
    first = ensure_model(storage, n_per_group=10)
    assert storage.list("models/") == [f"models/{first.version}.json"]
    assert first.n_samples == 30 and "synthetic" in first.source
    assert ensure_model(storage).version == first.version


def test_train_from_folder_and_commands(tmp_path: Path, storage: LocalStorage) -> None:
    folder = tmp_path / "drawings"
    written = generate_training_set(folder, 9, seed=500, long_side=300)
    assert len(written) == 27 and (folder / "9-12" / "synthetic-000500.png").is_file()
    (folder / "6-8" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    (folder / "6-8" / "notes.txt").write_text("ignored")
    lines: list[str] = []
    model = train_command(storage, from_folder=folder, out=lines.append)
    assert model.groups["6-8"].n_samples == 9
    assert any("skipping" in line and "broken.png" in line for line in lines)
    assert storage.list("models/") == [f"models/{model.version}.json"]
    assert train_from_folder(folder).groups["3-5"].n_samples == 9

    generated = train_command(storage, generate=9, seed=3, out=lines.append)
    assert generated.n_samples == 27
    with pytest.raises(ValueError):
        train_command(storage, out=lines.append)
    with pytest.raises(ValueError):
        train_command(storage, from_folder=folder, generate=3, out=lines.append)
    with pytest.raises(ValueError, match="at least"):
        train_command(storage, from_folder=tmp_path / "missing", out=lines.append)
