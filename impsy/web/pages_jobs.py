"""Work that runs in the background: building a dataset, training or fine-tuning a model, and
following a job as it runs (a live stream for the pages, JSON for scripts)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bottle

from impsy.dataset import DEFAULT_MAX_GAP, DatasetError, load_dataset
from impsy.model import SIZES
from impsy.web.checks import peer
from impsy.web.handling import Answer, Handling, Refused, sse, start_event_stream
from impsy.web.jobs import Busy, Job, build_dataset_job
from impsy.web.training import finetune_arguments, stop_training, train_arguments, training_job


class JobPages(Handling):
    def start_job(self, job: Job, work: Callable[[Job], None], busy: str) -> Job:
        """Start `work` in the background, or refuse with `busy` while a job of its kind runs."""
        try:
            return self.jobs.start(job, work)
        except Busy:
            raise Refused(409, busy) from None

    def dataset_build(self) -> Answer:
        dimension = self.form_number("dimension", int, 2, 1000)
        max_gap = self.form_number("max_gap", float, 0.01, 3600, default=DEFAULT_MAX_GAP)
        job = self.start_job(
            Job("dataset", f"Building the {dimension}d dataset"),
            build_dataset_job(self.workdir, dimension, max_gap),
            "a dataset is being built already: wait for it to finish",
        )
        return self.done(f"Building the {dimension}d dataset.", f"/datasets?job={job.id}", job=job.id)

    def training_page(self) -> Answer:
        config, _ = self.read_config()
        job = self.jobs.get(bottle.request.query.get("job", "")) or self.jobs.current("training")
        return self.render(
            "training",
            available=self.training,
            datasets=[d for d in self.inventory.datasets() if not d.error],
            dimension=config.model.dimension if config else 9,
            sizes=list(SIZES),
            job=job,
            active=self.workdir.active_model(config),
            logs=bool(self.workdir.files("log")),
            can_restart=bool(self.settings.restart_command),
            host=bottle.request.get_header("Host", "impsypi.local:4000"),
        )

    def _refuse_without_trainer(self) -> None:
        if not self.training:
            raise Refused(
                409,
                "impsy-train is not installed beside this web UI: install it "
                "(`pip install -e ./train` in the IMPSY source) and restart the web UI",
            )

    def _train(self, title: str, arguments: Callable[[Path], list[str]]) -> Answer:
        """Start impsy-train with the arguments for a staging folder, as the training job."""
        staging = self.workdir.state / "training" / str(int(time.time() * 1000))
        job = self.start_job(
            Job("training", title),
            training_job(self.workdir, self.settings.trainer, arguments(staging), staging),
            "a model is being trained already: wait for it, or stop it",
        )
        return self.done("Training started.", f"/training?job={job.id}", job=job.id)

    def training_start(self) -> Answer:
        self._refuse_without_trainer()
        forms = bottle.request.forms
        dataset = self.workdir.file("dataset", forms.get("dataset", ""))
        size = forms.get("size", "s")
        if size not in SIZES:
            return self.refuse(400, f"size: expected one of {', '.join(SIZES)}, found {size!r}")
        epochs = self.form_number("epochs", int, 1, 10000, default=100)
        early = forms.get("earlystopping") == "on"
        try:
            dimension = load_dataset(dataset).dimension
        except DatasetError as error:
            return self.refuse(422, str(error).replace(f"{dataset}: ", f"{dataset.name}: "))
        return self._train(
            f"Training a {dimension}d {size} model on {dataset.name}",
            lambda out: train_arguments(dataset, dimension, size, epochs, early, out),
        )

    def training_finetune(self) -> Answer:
        """Learn from tonight: carry on training the active model on the logs since it was made."""
        self._refuse_without_trainer()
        config, _ = self.read_config()
        active = self.workdir.active_model(config)
        if active is None:
            return self.refuse(
                409, "there is no active model in models/ to learn from: make one active on the Models page"
            )
        logs = self.workdir.listable("log")
        if logs is None or not self.workdir.files("log"):
            return self.refuse(409, "there are no logs to learn from yet: play first")
        model = self.workdir.file("model", active)
        return self._train(
            f"Learning from tonight: {active}", lambda out: finetune_arguments(model, logs, out)
        )

    def training_stop(self) -> Answer:
        job = self.jobs.current("training")
        if job is None or not job.running or not stop_training(job):
            return self.refuse(409, "no training is running")
        return self.done(
            "Stopping: the best epoch so far is kept and saved.", f"/training?job={job.id}", job=job.id
        )

    def job_stream(self, job_id: str) -> Answer:
        job = self.jobs.get(job_id)
        if job is None:
            return self.refuse(404, f"there is no job {job_id}")
        start_event_stream()

        def events() -> Iterator[str]:
            last = 0
            yield "retry: 2000\n\n"
            while True:
                batch = job.wait(last, 10.0)
                if not batch:
                    yield ": waiting\n\n"
                    continue
                for event in batch:
                    last = event["seq"]
                    yield sse(event["type"], event)
                if any(e["type"] == "end" for e in batch):
                    return

        return self.streams.serve(peer(), events())

    def api_job(self, job_id: str) -> Answer:
        job = self.jobs.get(job_id)
        if job is None:
            return self.refuse(404, f"there is no job {job_id}")
        return {**job.summary(), "events": job.events[-200:]}
