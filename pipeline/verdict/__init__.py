"""The verdict's statistics and its type, pure (numpy, scipy, pydantic; no MLflow, Ray or matplotlib, no wording).

Welch and TOST with Holm, power and seeds needed (`stats`), the group-sequential confirm design (`sequential`),
across datasets (`overall`, `bayes`), Diebold-Mariano (`dm`), forecasts as paths and the per-step ratios
(`horizon`), budget curves (`budget`) and the `Verdict` model (`model`). The sweep imports it to decide whether
to buy another round of seeds; the report stage (`reports`) imports it to reach, word and draw the verdict.
"""
