"""Shared matplotlib set-up: Agg backend, fixed style and DPI, deterministic PNG output."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 10,
        "axes.titlesize": 10,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.fontsize": 8,
    }
)

# One colour per feature group / class, the same in every figure.
GROUP_COLORS = {
    "Normal": "#1f77b4",
    "Pneumonia": "#9467bd",
    "COVID-19": "#d62728",
    "G_NC": "#ff7f0e",
    "G_PC": "#2ca02c",
}
LABEL_COLORS = {"normal": "#1f77b4", "pneumonia": "#9467bd", "covid": "#d62728"}


def save(fig, figdir, name):
    """Writes figures/<name>.png; returns the path relative to the report dir."""
    fig.savefig(figdir / f"{name}.png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return f"figures/{name}.png"


def plain_numbers(ax):
    """No offset ('1e-4 + ...') on the y axis: values read as written."""
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useOffset=False)


def legend_below(fig, axes):
    """One legend for the whole figure, under the panels, so it never hides data."""
    handles, labels = [], []
    for ax in axes:
        for hd, lb in zip(*ax.get_legend_handles_labels()):
            if lb not in labels:
                handles.append(hd)
                labels.append(lb)
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4))


def grid(n, ncols=3, w=4.2, h=3.3):
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    flat = axes.ravel().tolist()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def load_gray(path, bit_depth=None):
    """A single-channel PNG (8 or 16 bit) as floats in [0, 1]."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        mode = im.mode
        a = np.asarray(im)
    if a.ndim == 3:  # RGB(A) written by someone else: show luminance-ish mean of RGB
        a = a[..., :3].mean(axis=2)
    if bit_depth:
        scale = float(2 ** int(bit_depth) - 1)
    elif a.dtype == np.uint8 or mode in ("L", "P", "RGB", "RGBA"):
        scale = 255.0
    else:
        scale = 65535.0
    return np.clip(a.astype(np.float64) / scale, 0.0, 1.0)
