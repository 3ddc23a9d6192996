"""The "FDIF sample" sample-data contribution: sample 0 of the quickstart preset."""

from __future__ import annotations

from typing import Any

from fdif_core import load_preset

from .model.render import frame, label_color_dict, label_features


def make_sample(preset: str = "quickstart", index: int = 0) -> list[tuple[Any, dict, str]]:
    """Image and label layers of one sample (40³ quickstart: under a second on a CPU)."""
    from napari.utils.colormaps import DirectLabelColormap

    loaded = load_preset(preset)
    recipe = loaded.recipe()
    s = recipe.sample(index)
    names = recipe.label_names
    spacing = tuple(loaded.volume.spacing)
    scale, translate = frame(recipe.shape, tuple(s.image.shape), spacing)  # type: ignore[arg-type]
    common = {"scale": scale, "translate": translate}
    return [
        (
            s.image.numpy(),
            {
                "name": "FDIF image",
                "contrast_limits": tuple(recipe.spec.clip),
                "colormap": "gray",
                **common,
            },
            "image",
        ),
        (
            s.label.numpy(),
            {
                "name": "FDIF label",
                "features": label_features(names),
                "colormap": DirectLabelColormap(color_dict=label_color_dict(len(names))),
                "opacity": 0.6,
                **common,
            },
            "labels",
        ),
    ]
