"""The fit's HTML report: per quantity and role, the samples' histogram with the
fitted density, a QQ plot, n and the Kolmogorov-Smirnov distance D; where the
export had too few samples, which base model the quantity came from. Where values
were cut short (reads a session's end cut), the QQ plot shows their Kaplan-Meier
quantiles, as far as they are estimated."""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from chatload.analysis.html import page
from chatload.analysis.plots import plt, save
from chatload.traffic.fit import COUNTS, ModelFit, QuantityFit
from chatload.traffic.survival import kaplan_meier

__all__ = ["write_fit_report"]


def _plot(quantity: QuantityFit, path: Path) -> Path:
    assert quantity.fit is not None
    family, samples = quantity.fit.family, np.asarray(quantity.samples, dtype=float)
    samples = samples[np.isfinite(samples) & (samples > 0)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    if quantity.name == "weight":
        left.hist(samples, bins=40, color="0.6")
        left.set_title("bursts started per person")
        grid = np.linspace(0.005, 0.995, 199)
        right.plot(np.quantile(samples / max(samples.mean(), 1e-12), grid), family.ppf(grid), ".")
    else:
        low, high = np.quantile(samples, [0.001, 0.999])
        low = max(low, 1e-3)
        high = max(high, low * 1.01)
        bins = np.logspace(np.log10(low), np.log10(high), 50)
        left.hist(samples, bins=bins, density=False, color="0.6", label="samples")
        edges = np.sqrt(bins[:-1] * bins[1:])
        expected = np.diff(family.cdf(bins)) * len(samples)
        left.plot(edges, expected, "-", color="#d62728", label=family.name)
        left.set_xscale("log")
        left.legend(fontsize=7)
        left.set_title(f"{quantity.role} {quantity.name}")
        grid = np.linspace(0.005, 0.995, 199)
        model = family.ppf(grid)
        if quantity.name in COUNTS:
            model = np.ceil(model)
        beyond = quantity.beyond
        if beyond is not None and len(beyond):  # as far as the cut ones allow
            run = kaplan_meier(samples, beyond).quantiles(grid)
            left.set_title(f"{quantity.role} {quantity.name} (and {len(beyond):,} cut short)")
        else:
            run = np.quantile(samples, grid)
        right.plot(model, run, ".", ms=3)
        right.set_xscale("log")
        right.set_yscale("log")
    lims = right.get_xlim()
    right.plot(lims, lims, "-", color="0.5", lw=0.8)
    right.set_xlabel("model quantile")
    right.set_ylabel("sample quantile")
    right.set_title(f"QQ: n {quantity.fit.n:,}, D {quantity.fit.d:.3f}")
    for axis in (left, right):
        axis.grid(True, alpha=0.3)
    return save(figure, path)


def write_fit_report(result: ModelFit, directory: Path, title: str) -> Path:
    """``directory/index.html`` and its PNGs; the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    rows, images = [], []
    for quantity in result.quantities:
        fit = quantity.fit
        rows.append(
            "<tr>"
            f"<td class='left'>{escape(quantity.role)}</td>"
            f"<td class='left'>{escape(quantity.name)}</td>"
            f"<td>{escape(fit.family.name if fit else '-')}</td>"
            f"<td>{len(quantity.samples):,}</td>"
            f"<td>{f'{fit.d:.3f}' if fit else '-'}</td>"
            f"<td class='left'>{escape(quantity.source)}</td></tr>"
        )
        if fit is not None:
            name = f"{quantity.role}_{quantity.name}.png"
            _plot(quantity, directory / name)
            images.append(f"<h3>{escape(quantity.role)} {escape(quantity.name)}</h3>")
            images.append(f'<img src="{name}" alt="{escape(quantity.name)}">')
    scalars = [
        f"<tr><td class='left'>{escape(key)}</td><td class='left'>{escape(value)}</td></tr>"
        for key, value in sorted(result.model.sources.items())
        if key.split(".", 1)[1] not in {q.name for q in result.quantities}
    ]
    body = [
        f"<h1>{escape(title)}</h1>",
        "<p class='note'>Each quantity fitted by maximum likelihood over lognormal, a "
        "mixture of two lognormals, Weibull, gamma and exponential, the family chosen by "
        "AIC; D is the Kolmogorov-Smirnov distance between the samples and the fit "
        "(docs/traffic.md).</p>",
        "<table><tr><th class='left'>role</th><th class='left'>quantity</th><th>family</th>"
        "<th>n</th><th>D</th><th class='left'>source</th></tr>" + "".join(rows) + "</table>",
        "<h2>Rates and shares</h2>",
        "<table><tr><th class='left'>quantity</th><th class='left'>source</th></tr>"
        + "".join(scalars)
        + "</table>",
        "<h2>Fits</h2>",
        *images,
    ]
    index = directory / "index.html"
    index.write_text(page(title, "\n".join(body)), encoding="utf-8")
    return index
