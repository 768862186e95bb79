"""The naive peer for ``bench_serve.py``: a minimal FastAPI app around a scikit-learn pipeline.

Runs under its own interpreter (pandas and scikit-learn are not loopml dependencies):

    /tmp/peer-venv/bin/python benchmarks/_minimal_fastapi.py serve --data Q1.parquet --port 8001
    /tmp/mlflow-venv/bin/python benchmarks/_minimal_fastapi.py save-mlflow --data Q1.parquet --out D

``serve`` trains Pipeline(OneHotEncoder for the categoricals + LGBMClassifier) on the same
January–March flights and the same features as the loopml model, then answers POST /predict the way
most tutorials do: ``pd.DataFrame([body])`` → ``predict_proba``. A body ``{"records": [...]}`` is
scored as one DataFrame. ``save-mlflow`` trains the same pipeline and writes it with
``mlflow.sklearn.save_model`` (pyfunc predicting probabilities) for ``mlflow models serve``.
"""

from __future__ import annotations

import argparse
from typing import Any

NUMERIC = ["distance", "hour", "temp", "humid", "wind_speed", "visib"]
CATEGORICAL = ["carrier", "origin", "dest"]
TARGET = "late"


def build_model(data: str) -> Any:
    """The fitted pipeline: one-hot categoricals, numerics as they are, LightGBM."""
    import pandas as pd
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_parquet(data)
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                    remainder="passthrough",
                ),
            ),
            ("model", LGBMClassifier(n_estimators=200, learning_rate=0.05, verbose=-1)),
        ]
    )
    return pipeline.fit(frame[CATEGORICAL + NUMERIC], frame[TARGET].astype(int))


def serve(data: str, port: int) -> None:
    import pandas as pd
    import uvicorn
    from fastapi import FastAPI

    model = build_model(data)
    app = FastAPI()

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        records = body.get("records", [body])
        probabilities = model.predict_proba(pd.DataFrame(records))[:, 1]
        if "records" in body:
            return {"probabilities": probabilities.tolist()}
        return {"probability": float(probabilities[0])}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def save_mlflow(data: str, out: str) -> None:
    import mlflow.sklearn

    mlflow.sklearn.save_model(
        build_model(data),
        out,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pyfunc_predict_fn="predict_proba",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["serve", "save-mlflow"])
    parser.add_argument("--data", required=True, help="training Parquet (January–March flights)")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--out", help="folder for save-mlflow")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.data, args.port)
    else:
        save_mlflow(args.data, args.out)


if __name__ == "__main__":
    main()
