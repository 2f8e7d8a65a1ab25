"""Logs, datasets and models: list, download, upload (checked), delete; paths stay inside the folder."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import gesture, write_log
from web.helpers import CONFIG_4D, CONFIG_4D_MIDI, Client

from impsy.dataset import Dataset, build_dataset, load_dataset
from impsy.web import inventory

LOG = "2026-01-31T20-15-00-4d-mdrnn.log"
NAME_RULE = "letters, digits, '.', '_' and '-' only, not starting with '.'"


@pytest.fixture
def log_file(workdir) -> Path:
    return write_log(workdir.folder("log"), 4, datetime(2026, 1, 31, 20, 15, 0), [gesture(50, 3)])


def wait_for_end(job) -> dict:
    seen = 0
    while True:
        events = job.wait(seen, 30.0)
        assert events, "the job went quiet"
        seen = events[-1]["seq"]
        if events[-1]["type"] == "end":
            return events[-1]


# ---- Downloads and the paths a request may name ------------------------------------------------------


def test_a_log_downloads_as_an_attachment(client, log_file):
    for path in (f"/logs/{LOG}", f"/api/logs/{LOG}"):
        response = client.get(path)
        assert response.status == 200
        assert response.body == log_file.read_bytes()
        assert response.header("Content-Disposition") == f'attachment; filename="{LOG}"'


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/logs/..", 400, "'..' is not a log file name: use " + NAME_RULE),
        ("/logs/%2e%2e", 400, "'..' is not a log file name: use " + NAME_RULE),
        ("/logs/.hidden.log", 400, "'.hidden.log' is not a log file name: use " + NAME_RULE),
        (
            "/logs/a%5C..%5Cconfig.toml",
            400,
            "'a\\\\..\\\\config.toml' is not a log file name: use " + NAME_RULE,
        ),
        (
            "/logs/config.toml",
            400,
            "'config.toml' is not a log file name: expected YYYY-MM-DDTHH-MM-SS-<D>d-mdrnn.log, as IMPSY "
            "names its logs (" + NAME_RULE + ")",
        ),
        (
            "/api/logs/2026-01-01T00-00-00-4d-mdrnn.log",
            404,
            "there is no log called '2026-01-01T00-00-00-4d-mdrnn.log'",
        ),
        # A slash, even encoded, makes it no route at all: nothing outside a folder is reached.
        ("/models/..%2fconfig.toml", 404, "There is no page at /models/../config.toml."),
        ("/api/logs/..%2F..%2Fetc%2Fpasswd", 404, "There is no page at /api/logs/../../etc/passwd."),
        ("/datasets/%00.npz", 400, "'\\x00.npz' is not a dataset file name: use " + NAME_RULE),
        ("/api/models/x.tflite%00.png", 404, "There is no page at /api/models/x.tflite\x00.png."),
    ],
)
def test_traversal_attempts_are_refused(client, path, status, message):
    response = client.get(path, headers={"Accept": "application/json"})
    assert (response.status, response.json()) == (status, {"error": message})


def test_a_symlink_out_of_the_folder_is_never_served_or_deleted(client, workdir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("2026-01-01T00:00:00,interface,0.1,0.2,0.3\n")
    (workdir.folder("log") / LOG).symlink_to(secret)
    (workdir.folder("model") / "m.tflite").symlink_to(secret)
    for path in (f"/logs/{LOG}", f"/api/logs/{LOG}", "/models/m.tflite"):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status == 403
        folder = "logs" if "log" in path else "models"
        name = LOG if "log" in path else "m.tflite"
        assert response.json() == {"error": f"{folder}/{name} leads out of its folder: refused"}
    assert client.post(f"/logs/{LOG}/delete").status == 403
    assert secret.exists()
    assert client.get("/api/logs").json() == {"logs": []}
    assert LOG not in client.get("/logs").text


def test_a_symlink_inside_the_folder_is_fine(client, workdir, log_file):
    (workdir.folder("log") / "2026-02-01T00-00-00-4d-mdrnn.log").symlink_to(log_file)
    assert client.get("/logs/2026-02-01T00-00-00-4d-mdrnn.log").status == 200


def test_a_folder_symlinked_out_of_the_workdir_is_not_listed(client, workdir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_log(outside, 4, datetime(2026, 1, 31, 20, 15, 0), [gesture(5, 3)])
    workdir.folder("log").rmdir()
    workdir.folder("log").symlink_to(outside)
    assert client.get("/api/logs").json() == {"logs": []}
    assert client.get(f"/logs/{LOG}").status == 403


def point_out(workdir, kind: str, outside: Path) -> None:
    """Replace one of the workdir's folders with a symlink to a folder outside it."""
    outside.mkdir()
    workdir.folder(kind).rmdir()
    workdir.folder(kind).symlink_to(outside)


def test_pages_still_answer_with_a_folder_symlinked_out(client, workdir, tmp_path):
    point_out(workdir, "model", tmp_path / "models-elsewhere")  # and the config names a model
    for path in ("/", "/models", "/datasets", "/api/status", "/api/models"):
        assert client.get(path).status == 200, path
    assert client.get("/api/models").json()["models"] == []


def test_nothing_is_written_through_a_folder_symlinked_out(ui, client, workdir, tmp_path, log_file):
    point_out(workdir, "dataset", tmp_path / "datasets-elsewhere")
    response = client.post("/datasets/build", {"dimension": "4"})
    end = wait_for_end(ui.jobs.get(response.location.split("=")[1]))
    assert end["message"] == "failed: datasets/ points outside the working folder: refused"
    response = client.upload("/api/datasets?name=d.npz", b"PK", headers={"Accept": "application/json"})
    assert (response.status, response.json()) == (
        403,
        {"error": "datasets/ points outside the working folder: refused"},
    )
    point_out(workdir, "model", tmp_path / "models-elsewhere")
    response = client.upload("/api/models?name=m.tflite", b"TFL3", headers={"Accept": "application/json"})
    assert (response.status, response.json()) == (
        403,
        {"error": "models/ points outside the working folder: refused"},
    )
    log_file.unlink()
    point_out(workdir, "log", tmp_path / "logs-elsewhere")
    response = client.upload(f"/api/logs?name={LOG}", b"x", headers={"Accept": "application/json"})
    assert (response.status, response.json()) == (
        403,
        {"error": "logs/ points outside the working folder: refused"},
    )
    assert [p.name for p in tmp_path.glob("*-elsewhere/*")] == []  # not even a part file


def test_a_config_symlinked_out_is_neither_read_nor_written(client, workdir, tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text("password = 'hunter2'\n")
    workdir.config.unlink()
    workdir.config.symlink_to(secret)
    page = client.get("/config")
    assert page.status == 403 and "hunter2" not in page.text
    assert "config.toml points outside the working folder: refused" in page.text
    assert client.post("/config", {"text": "x = 1\n"}).status == 403
    assert secret.read_text() == "password = 'hunter2'\n"


# ---- Logs ------------------------------------------------------------------------------------------------


def test_all_logs_download_as_one_zip(client, workdir, log_file):
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    response = client.get("/logs/all.zip")
    assert response.status == 200 and response.header("Content-Type") == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
        assert archive.namelist() == [f"logs/{LOG}"]
        assert archive.read(f"logs/{LOG}") == log_file.read_bytes()


def test_the_log_impsy_run_is_writing_cannot_be_deleted(ui, client, log_file):
    ui.link.state["log"] = f"logs/{LOG}"
    ui.link.report()
    listing = client.get("/logs").text
    assert '<span class="pill ok">recording</span>' in listing
    assert f'href="/logs/{LOG}/delete"' not in listing
    page = client.get(f"/logs/{LOG}/delete").text
    assert "impsy run is writing this log right now: delete it after IMPSY has restarted." in page
    response = client.post(f"/logs/{LOG}/delete", headers={"Accept": "application/json"})
    assert response.status == 409
    assert response.json() == {"error": f"impsy run is writing {LOG} right now: delete it after a restart"}
    assert log_file.exists()


def test_the_log_list_as_json(client, log_file):
    assert client.get("/api/logs").json() == {
        "logs": [
            {
                "name": LOG,
                "dimension": 4,
                "bytes": log_file.stat().st_size,
                "performer": 50,
                "model": 0,
                "other": 0,
                "duration": pytest.approx(2.45),
                "started": "2026-01-31 20:15:00",
            }
        ]
    }


def test_deleting_a_log_asks_first(client, log_file):
    page = client.get(f"/logs/{LOG}/delete")
    assert page.status == 200
    assert f"This deletes <code>logs/{LOG}</code>" in page.text
    assert log_file.exists()
    response = client.post(f"/logs/{LOG}/delete")
    assert response.status == 303 and response.location == "/logs"
    assert not log_file.exists()
    assert f"Deleted logs/{LOG}." in client.get("/logs").text  # the flash message, once
    assert f"Deleted logs/{LOG}." not in client.get("/logs").text


def test_deleting_a_missing_log_is_a_404(client):
    response = client.post(f"/logs/{LOG}/delete", headers={"Accept": "application/json"})
    assert response.status == 404
    assert response.json() == {"error": f"there is no log called '{LOG}'"}


def test_uploading_a_log(client, workdir, tmp_path):
    source = write_log(tmp_path, 4, datetime(2026, 1, 31, 20, 15, 0), [gesture(20, 3)])
    response = client.upload(f"/api/logs?name={LOG}", source.read_bytes())
    assert response.status == 200
    assert response.json() == {"ok": True, "message": f"Uploaded logs/{LOG}: 20 rows.", "name": LOG}
    assert (workdir.folder("log") / LOG).read_bytes() == source.read_bytes()


def test_uploading_a_log_that_is_there_already_is_refused(client, log_file):
    response = client.upload(f"/api/logs?name={LOG}", b"2026-01-31T20:15:00,interface,0.1,0.2,0.3\n")
    assert response.status == 409
    assert response.json() == {"error": f"logs/{LOG} already exists: delete it first to replace it"}


@pytest.mark.parametrize(
    "query, body, status, message",
    [
        ("", b"x", 400, "name the file: ?name=FILE"),
        (
            "?name=notes.txt",
            b"x",
            400,
            "'notes.txt' is not a log file name: expected YYYY-MM-DDTHH-MM-SS-<D>d-mdrnn.log, "
            "as IMPSY names its logs (" + NAME_RULE + ")",
        ),
        (f"?name=../../{LOG}", b"", 400, "the upload is empty: choose a file"),
        (f"?name={LOG}", b"\xff\xfe\x00binary", 422, f"{LOG} is not a text file, so it is not an IMPSY log"),
        (
            f"?name={LOG}",
            b"hello,world\n",
            422,
            f"{LOG} has no rows in IMPSY's log format (for example expected 5 fields, found 2)",
        ),
        (
            f"?name={LOG}",
            b"2026-01-31T20:15:00,interface,0.1,0.2\n",
            422,
            f"{LOG} has no rows in IMPSY's log format (for example expected 5 fields, found 4)",
        ),
        (
            "?name=2024-01-01T00-00-01-1d-mdrnn.log",
            b"2024-01-01T00:00:00,interface\n",
            422,
            "2024-01-01T00-00-01-1d-mdrnn.log: a 1d log has no controls (the dimension is controls + 1)",
        ),
        (
            "?name=2024-01-01T00-00-01-0d-mdrnn.log",
            b"2024-01-01T00:00:00,interface\n",
            422,
            "2024-01-01T00-00-01-0d-mdrnn.log: a 0d log has no controls (the dimension is controls + 1)",
        ),
        ("?name=%C3%A9vil.tflite", b"x", 400, None),  # the name as sent (UTF-8), not as latin-1
    ],
)
def test_bad_log_uploads_are_refused_with_the_reason(client, workdir, query, body, status, message):
    response = client.upload(f"/api/logs{query}", body)
    assert response.status == status
    if message is None:
        assert "'évil.tflite' is not a log file name" in response.json()["error"]
    else:
        assert response.json() == {"error": message}
    assert [p.name for p in workdir.folder("log").iterdir()] == []


def test_a_log_with_some_bad_rows_is_accepted_and_says_so(client, workdir):
    body = b"2026-01-31T20:15:00,interface,0.1,0.2,0.3\nbroken\n"
    response = client.upload(f"/api/logs?name={LOG}", body)
    assert response.json()["message"] == f"Uploaded logs/{LOG}: 1 rows; 1 malformed rows will be skipped."


def test_an_upload_never_overwrites_a_file_that_took_its_name_meanwhile(tmp_path, monkeypatch):
    from impsy.web import handling

    part, target = tmp_path / "x.part", tmp_path / "x.log"
    part.write_text("second")
    target.write_text("first, finished while the second was arriving")
    assert handling._place_new(part, target) is False
    assert target.read_text().startswith("first")
    target.unlink()
    assert handling._place_new(part, target) is True and target.read_text() == "second"
    # Without hard links (a FAT stick): the same answer, by a check and a rename.
    part.write_text("third")
    monkeypatch.setattr(handling.os, "link", lambda *a: (_ for _ in ()).throw(PermissionError("no links")))
    assert handling._place_new(part, target) is False
    target.unlink()
    assert handling._place_new(part, target) is True and target.read_text() == "third"


def test_an_upload_cut_short_leaves_nothing_behind(client, workdir):
    token = client.token()
    environ_body = b"2026-01-31T20:15:00,interface,0.1,0.2,0.3\n"
    response = client.request(
        "POST",
        f"/api/logs?name={LOG}",
        environ_body,
        {"Content-Type": "application/octet-stream", "X-CSRF-Token": token, "Content-Length": "1000"},
    )
    assert response.status == 400
    assert response.json() == {
        "error": f"the upload stopped after {len(environ_body)} of 1000 bytes: try again"
    }
    assert list(workdir.folder("log").iterdir()) == []


def test_an_upload_that_would_fill_the_card_is_refused(client, workdir, monkeypatch):
    monkeypatch.setattr(type(workdir), "disk_free", lambda self: 25 * 1024 * 1024)
    response = client.upload(f"/api/logs?name={LOG}", b"x" * (6 * 1024 * 1024))
    assert response.status == 507
    assert response.json() == {
        "error": "not enough space: the file is 6.0 MB and 25.0 MB is free "
        "(delete old logs or datasets first)"
    }


# ---- Datasets --------------------------------------------------------------------------------------------


def test_building_a_dataset_shows_progress_and_matches_impsy_dataset(ui, client, workdir):
    for hour in range(3):
        write_log(
            workdir.folder("log"), 4, datetime(2026, 1, 1, 10 + hour), [gesture(40, 3, hour), gesture(30, 3)]
        )
    write_log(workdir.folder("log"), 9, datetime(2026, 1, 2, 10), [gesture(10, 8)])
    page = client.get("/datasets").text
    assert '<option value="4">4 (3 controls)</option>' in page and '<option value="9">' in page
    response = client.post("/datasets/build", {"dimension": "4", "max_gap": "5"})
    assert response.status == 303 and response.location == "/datasets?job=" + response.location.split("=")[1]
    job = ui.jobs.get(response.location.split("=")[1])
    end = wait_for_end(job)
    assert end["state"] == "done"
    progress = [e for e in job.events if e["type"] == "progress"]
    assert [(e["done"], e["total"]) for e in progress] == [(1, 3), (2, 3), (3, 3)]
    built = load_dataset(workdir.folder("dataset") / "training-dataset-4d.npz")
    expected, _ = build_dataset(workdir.folder("log"), 4, 5.0)
    np.testing.assert_array_equal(built.events, expected.events)
    np.testing.assert_array_equal(built.starts, expected.starts)
    assert built.sources == expected.sources
    assert end["message"] == f"training-dataset-4d.npz: {expected.summary()}"
    assert "training-dataset-4d.npz" in client.get("/datasets").text
    again = ui.jobs.get(client.post("/datasets/build", {"dimension": "4"}).location.split("=")[1])
    assert wait_for_end(again)["message"].startswith(
        "training-dataset-4d.npz (it replaces the one built or uploaded before): "
    )


def test_building_from_no_logs_fails_with_a_reason(ui, client):
    response = client.post("/datasets/build", {"dimension": "7"})
    job = ui.jobs.get(response.location.split("=")[1])
    assert wait_for_end(job)["message"] == "there are no 7d logs to build from"
    assert job.state == "failed"


@pytest.mark.parametrize(
    "form, message",
    [
        ({"dimension": "x"}, "dimension: expected a number, found 'x'"),
        ({"dimension": "1"}, "dimension: expected a number from 2 to 1000, found 1"),
        ({"dimension": "4", "max_gap": "0"}, "max_gap: expected a number from 0.01 to 3600, found 0"),
        ({"dimension": "4", "max_gap": "nan"}, "max_gap: expected a number, found 'nan'"),
    ],
)
def test_building_with_bad_choices_is_refused(client, form, message):
    response = client.post("/datasets/build", form, headers={"Accept": "application/json"})
    assert response.status == 400
    assert response.json() == {"error": message}


def test_only_one_dataset_is_built_at_a_time(ui, client):
    from impsy.web.jobs import Job

    blocker = ui.jobs.start(Job("dataset", "blocking"), lambda job: job.wait(10**9, 30))
    response = client.post("/datasets/build", {"dimension": "4"}, headers={"Accept": "application/json"})
    assert response.status == 409
    assert response.json() == {"error": "a dataset is being built already: wait for it to finish"}
    blocker.finish("done", "")


def test_a_job_streams_its_events_to_the_page(ui, client, workdir):
    write_log(workdir.folder("log"), 4, datetime(2026, 1, 1, 10), [gesture(40, 3)])
    job_id = client.post("/datasets/build", {"dimension": "4"}).location.split("=")[1]
    wait_for_end(ui.jobs.get(job_id))
    status, headers, body = client.stream(f"/jobs/{job_id}/stream")
    assert status == 200 and dict(headers)["Content-Type"].startswith("text/event-stream")
    text = "".join(chunk.decode() if isinstance(chunk, bytes) else chunk for chunk in body)
    assert text.startswith("retry: 2000\n\n")
    assert "event: progress\n" in text and text.rstrip().split("\n")[-2] == "event: end"
    summary = client.get(f"/api/jobs/{job_id}").json()
    assert summary["state"] == "done" and summary["kind"] == "dataset"
    assert client.get("/jobs/999/stream").status == 404


def saved_dataset(tmp_path: Path) -> bytes:
    dataset = Dataset(
        4, np.random.default_rng(0).random((30, 4), dtype=np.float32), np.array([0, 10]), ["a", "b"]
    )
    return dataset.save(tmp_path / "d.npz").read_bytes()


def test_uploading_a_dataset(client, workdir, tmp_path):
    response = client.upload("/api/datasets?name=mine.npz", saved_dataset(tmp_path))
    assert response.status == 200
    assert response.json()["message"].startswith("Uploaded datasets/mine.npz: 2 performances, 30 events")
    assert load_dataset(workdir.folder("dataset") / "mine.npz").dimension == 4
    again = client.upload("/api/datasets?name=mine.npz", saved_dataset(tmp_path))
    assert again.status == 409
    assert again.json() == {"error": "datasets/mine.npz already exists: delete it first to replace it"}
    assert client.upload("/api/datasets?name=mine.npz&replace=1", saved_dataset(tmp_path)).status == 200


class Trap:
    """Unpickling this would create the marker file: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_an_uploaded_pickled_dataset_is_never_unpickled(client, workdir, tmp_path):
    marker = tmp_path / "unpickled"
    perfs = np.empty(1, dtype=object)
    perfs[0] = Trap(marker)
    buffer = io.BytesIO()
    np.savez(buffer, perfs=perfs)
    response = client.upload("/api/datasets?name=old.npz", buffer.getvalue())
    assert response.status == 422
    error = response.json()["error"]
    assert error.startswith("old.npz was not accepted: this is an original IMPSY dataset, stored with pickle")
    assert not marker.exists()
    assert list(workdir.folder("dataset").iterdir()) == []
    assert load_dataset  # the loader itself is what refuses; see tests/test_dataset.py


@pytest.mark.parametrize(
    "body, message",
    [
        (b"not a zip", "x.npz was not accepted: not a dataset file (File is not a zip file)"),
        (None, "x.npz was not accepted: not an IMPSY dataset (missing events, meta, starts)"),
    ],
)
def test_bad_dataset_uploads_are_refused(client, workdir, body, message):
    if body is None:
        buffer = io.BytesIO()
        np.savez(buffer, other=np.zeros(3))
        body = buffer.getvalue()
    response = client.upload("/api/datasets?name=x.npz", body)
    assert response.status == 422
    assert response.json() == {"error": message}
    assert list(workdir.folder("dataset").iterdir()) == []


def test_a_dataset_that_unpacks_to_too_much_is_refused(client, workdir, tmp_path, monkeypatch):
    monkeypatch.setattr(inventory, "DATASET_MAX_UNPACKED", 100)
    response = client.upload("/api/datasets?name=x.npz", saved_dataset(tmp_path))
    assert response.status == 422
    assert response.json() == {"error": "x.npz was not accepted: it would unpack to more than 100 bytes"}


def test_the_dataset_list_shows_unreadable_files_with_the_reason(client, workdir, tmp_path):
    (workdir.folder("dataset") / "bad.npz").write_bytes(b"nope")
    (workdir.folder("dataset") / "good.npz").write_bytes(saved_dataset(tmp_path))
    listed = {d["name"]: d for d in client.get("/api/datasets").json()["datasets"]}
    assert listed["bad.npz"]["error"] == "not a dataset file (File is not a zip file)"
    assert (listed["good.npz"]["dimension"], listed["good.npz"]["events"]) == (4, 30)


def test_datasets_download_and_delete(client, workdir, tmp_path):
    data = saved_dataset(tmp_path)
    (workdir.folder("dataset") / "d.npz").write_bytes(data)
    assert client.get("/datasets/d.npz").body == data
    assert client.post("/datasets/d.npz/delete").location == "/datasets"
    assert not (workdir.folder("dataset") / "d.npz").exists()


# ---- Models (with the fake check: b"MODEL dim=N" is a model) ---------------------------------------------


def test_uploading_a_model_reports_what_the_check_found(ui, client, workdir):
    response = client.upload("/api/models?name=m.tflite", b"MODEL dim=4")
    assert response.status == 200
    assert response.json() == {
        "ok": True,
        "message": "Uploaded models/m.tflite: dimension 4, size s, 0.50 ms per prediction.",
        "name": "m.tflite",
        "model": {
            "dimension": 4,
            "units": 64,
            "layers": 2,
            "mixtures": 5,
            "size": "s",
            "layout": "impsy",
            "ms_per_step": 0.5,
        },
    }
    assert (workdir.folder("model") / "m.tflite").read_bytes() == b"MODEL dim=4"
    assert workdir.config.read_text() == CONFIG_4D  # not made active unless asked


def test_a_model_that_fails_its_check_is_not_kept(client, workdir):
    response = client.upload("/api/models?name=m.tflite", b"garbage")
    assert response.status == 422
    assert response.json() == {"error": "m.tflite was not accepted: not a usable .tflite model (fake check)"}
    assert list(workdir.folder("model").iterdir()) == []


@pytest.mark.parametrize(
    "name, status, message",
    [
        (
            "m.keras",
            415,
            "m.keras: the runtime plays .tflite models; convert it on your laptop with "
            "`impsy-train export m.keras` and upload the .tflite",
        ),
        (
            "m.h5",
            415,
            "m.h5: the runtime plays .tflite models; convert it on your laptop with "
            "`impsy-train export m.h5` and upload the .tflite",
        ),
        (
            "m.onnx",
            400,
            "'m.onnx' is not a model file name: expected a name ending in .tflite (" + NAME_RULE + ")",
        ),
        (".m.tflite", 400, "'.m.tflite' is not a model file name: use " + NAME_RULE),
        (
            "my model.tflite",
            400,
            "'my model.tflite' is not a model file name: expected a name ending in .tflite ("
            + NAME_RULE
            + ")",
        ),
    ],
)
def test_model_names_are_checked(client, workdir, name, status, message):
    response = client.upload(f"/api/models?name={name}", b"MODEL dim=4")
    assert response.status == status
    assert response.json() == {"error": message}


def test_replacing_a_model_needs_asking(client, workdir):
    client.upload("/api/models?name=m.tflite", b"MODEL dim=4")
    response = client.upload("/api/models?name=m.tflite", b"MODEL dim=9")
    assert response.status == 409
    assert response.json() == {"error": "models/m.tflite already exists: tick 'replace' to overwrite it"}
    models = workdir.folder("model")
    for companion in ("m.keras", "m.report.json", "m.loss.png"):  # the old model's training
        (models / companion).write_bytes(b"of the old model")
    assert client.upload("/api/models?name=m.tflite&replace=1", b"MODEL dim=9").status == 200
    listed = client.get("/api/models").json()["models"][0]
    assert (listed["dimension"], listed["report"], listed["plot"]) == (9, False, False)
    assert sorted(p.name for p in models.iterdir()) == ["m.tflite"]


def test_the_active_model_is_not_replaced_by_one_of_another_dimension(client, workdir):
    client.upload("/api/models?name=m.tflite&activate=1", b"MODEL dim=4")
    config = workdir.config.read_text()
    for query in ("replace=1", "replace=1&activate=1"):
        response = client.upload(f"/api/models?name=m.tflite&{query}", b"MODEL dim=9")
        assert (response.status, response.json()) == (
            409,
            {
                "error": "models/m.tflite is the active model, which config.toml plays as 4d, and this "
                "file is 9d: upload it under another name and make that one active"
            },
        )
    assert (workdir.folder("model") / "m.tflite").read_bytes() == b"MODEL dim=4"
    assert workdir.config.read_text() == config
    assert client.upload("/api/models?name=m.tflite&replace=1", b"MODEL dim=4 v2").status == 200


def test_upload_and_activate_in_one_request(client, workdir):
    response = client.upload("/api/models?name=m.tflite&activate=1", b"MODEL dim=9")
    body = response.json()
    assert (
        body["activated"]
        == "models/m.tflite is now the active model (dimension 9). Restart IMPSY to play it."
    )
    text = workdir.config.read_text()
    assert 'file = "models/m.tflite"' in text and "dimension = 9" in text
    assert workdir.previous_config.read_text() == CONFIG_4D


def test_upload_and_activate_keeps_the_config_when_the_mappings_do_not_fit(client, workdir):
    workdir.config.write_text(CONFIG_4D_MIDI)
    response = client.upload("/api/models?name=m.tflite&activate=1", b"MODEL dim=9")
    body = response.json()
    assert response.status == 200 and body["activated"] is False
    assert body["activate_error"].startswith(
        "making m.tflite active would leave config.toml invalid, so nothing"
    )
    assert workdir.config.read_text() == CONFIG_4D_MIDI
    assert (workdir.folder("model") / "m.tflite").exists()


def test_making_a_model_active(client, workdir):
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    response = client.post("/models/m.tflite/activate")
    assert response.status == 303 and response.location == "/models"
    assert 'file = "models/m.tflite"' in workdir.config.read_text()
    page = client.get("/models").text
    assert "models/m.tflite is now the active model (dimension 4). Restart IMPSY to play it." in page
    assert '<span class="pill ok">active</span>' in page


def test_making_a_model_active_that_the_mappings_do_not_fit_is_refused(client, workdir):
    workdir.config.write_text(CONFIG_4D_MIDI)
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=9")
    response = client.post("/api/models/m.tflite/activate")
    assert response.status == 422
    assert response.json() == {
        "error": "making m.tflite active would leave config.toml invalid, so nothing was changed: "
        'config.toml: midi.input."S-1": expected 8 entries, one per control (model.dimension 9 minus 1); '
        "found 3 (a 9d model needs mappings of 8 controls: change them on the Configuration page or use "
        "the setup wizard)"
    }
    assert workdir.config.read_text() == CONFIG_4D_MIDI


def test_making_a_model_active_without_a_config_is_refused(client, workdir):
    workdir.config.unlink()
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    response = client.post("/api/models/m.tflite/activate")
    assert response.status == 409
    assert response.json() == {"error": "there is no config.toml yet: make one with the setup wizard first"}
    assert not workdir.config.exists()


def test_a_broken_model_cannot_be_made_active(client, workdir):
    (workdir.folder("model") / "m.tflite").write_bytes(b"junk")
    response = client.post("/api/models/m.tflite/activate")
    assert response.status == 422
    assert response.json() == {
        "error": "m.tflite cannot be made active: not a usable .tflite model (fake check)"
    }


def test_the_active_model_cannot_be_deleted(client, workdir):
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    client.post("/models/m.tflite/activate")
    assert "This is the active model: make another one active" in client.get("/models/m.tflite/delete").text
    response = client.post("/api/models/m.tflite/activate")  # idempotent
    assert response.status == 200
    response = client.post("/models/m.tflite/delete", headers={"Accept": "application/json"})
    assert response.status == 409
    assert response.json() == {"error": "m.tflite is the active model: make another one active first"}
    assert (workdir.folder("model") / "m.tflite").exists()


def test_deleting_a_model_takes_its_report_and_plot_along(client, workdir):
    folder = workdir.folder("model")
    for name in ("m.tflite", "m.keras", "m.report.json", "m.loss.png", "m.loss.svg", "other.tflite"):
        (folder / name).write_bytes(b"MODEL dim=4")
    assert client.post("/models/m.tflite/delete").status == 303
    assert sorted(p.name for p in folder.iterdir()) == ["other.tflite"]


def test_a_model_plot_is_served_if_there_is_one(client, workdir):
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    response = client.get("/models/m.tflite/plot", headers={"Accept": "application/json"})
    assert response.status == 404 and response.json() == {"error": "m.tflite has no training plot"}
    (workdir.folder("model") / "m.loss.png").write_bytes(b"\x89PNG fake")
    response = client.get("/models/m.tflite/plot")
    assert response.status == 200 and response.header("Content-Type") == "image/png"
    assert '<img src="/models/m.tflite/plot"' in client.get("/models").text


def test_an_svg_plot_is_served_as_an_image_that_may_run_nothing(client, workdir):
    """impsy-train's plot is an SVG: a document that could hold script, so it is sent with a
    policy that forbids scripts and loads, and the Models page shows it only in an <img>."""
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    (workdir.folder("model") / "m.loss.png").write_bytes(b"\x89PNG an older plot")
    (workdir.folder("model") / "m.loss.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    response = client.get("/models/m.tflite/plot")
    assert response.status == 200
    assert response.header("Content-Type").startswith("image/svg+xml")
    assert (
        response.header("Content-Security-Policy") == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert '<img src="/models/m.tflite/plot"' in client.get("/models").text


def test_model_figures_are_remembered_across_restarts(make_ui, workdir):
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    calls = []

    def counting(paths):
        from web.helpers import fake_checker

        calls.append([p.name for p in paths])
        return fake_checker(paths)

    _, client = make_ui(check_models=counting)
    client.get("/models")
    client.get("/models")
    _, again = make_ui(check_models=counting)
    again.get("/models")
    assert calls == [["m.tflite"]]
    assert json.loads((workdir.state / "models.json").read_text())


# ---- Models with the real check (a small model trained by impsy-train) ---------------------------


@pytest.fixture
def real_checker_client(make_ui):
    from impsy.web.modelcheck import check_files

    return make_ui(check_models=check_files)[1]


@pytest.mark.slow
def test_a_real_model_is_loaded_and_timed_before_it_is_accepted(real_checker_client, workdir, tiny_model):
    data = tiny_model["tflite"].read_bytes()
    response = real_checker_client.upload("/api/models?name=tiny.tflite&activate=1", data)
    assert response.status == 200, response.text
    figures = response.json()["model"]
    assert (figures["dimension"], figures["size"], figures["layers"], figures["units"]) == (4, "xxs", 2, 16)
    assert figures["layout"] == "impsy" and figures["ms_per_step"] > 0
    assert 'file = "models/tiny.tflite"' in workdir.config.read_text()
    assert 'size = "xxs"' in workdir.config.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_a_damaged_model_is_refused_and_the_web_ui_survives(real_checker_client, workdir, tiny_model, damage):
    data = tiny_model["tflite"].read_bytes()
    body = {
        "garbage": b"\x00" * 64 + b"not a flatbuffer" * 100,
        "truncated": data[: len(data) // 3],
        "flipped": data[:16] + bytes(b ^ 0xFF for b in data[16:2000]) + data[2000:],
    }[damage]
    response = real_checker_client.upload("/api/models?name=bad.tflite", body)
    assert response.status == 422
    assert response.json()["error"].startswith("bad.tflite was not accepted: ")
    assert list(workdir.folder("model").iterdir()) == []
    assert real_checker_client.get("/api/status").status == 200  # still serving


def test_a_client_of_another_session_sees_its_own_flash_only(ui, client, log_file):
    other = Client(ui.app)
    client.post(f"/logs/{LOG}/delete")
    assert "Deleted logs/" not in other.get("/logs").text
