"""``ai-trader backfill``: plan, then submit to the webserver or run in-process."""

import getpass
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from ai_trader_assets.cli.common import (
    console,
    dagster_instance,
    duration,
    errors,
    fail,
    market_database,
    progress_bar,
)
from ai_trader_assets.config import cached_config
from ai_trader_assets.settings import Settings, load_settings

if TYPE_CHECKING:
    from ai_trader_assets.cli.in_process import InProcessRunner
    from ai_trader_assets.planning.backfill_launch import LayerLaunch, PlannedRun, WebserverClient
    from ai_trader_assets.planning.backfill_plan import BackfillPlan


def backfill(
    symbols: Annotated[
        str, typer.Option("--symbols", help="layer0..layer3, all, or symbols: AAPL,MSFT (grouped by layer).")
    ],
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Calendar days back from today; default: each dataset's cold window."
        ),
    ] = None,
    datasets: Annotated[
        str | None,
        typer.Option(
            "--datasets", help="Comma-separated, e.g. bars_1day,news; default: the layer's datasets."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan only: nothing is fetched or launched.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Refetch what storage already has (a full refresh).")
    ] = False,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="Where bars come from: auto (the cheaper), rest, or flatfiles (Massive's flat files; "
            "needs MASSIVE_S3_ACCESS_KEY_ID and MASSIVE_S3_SECRET_ACCESS_KEY).",
        ),
    ] = "auto",
    webserver: Annotated[
        str | None,
        typer.Option(
            "--webserver",
            envvar="AI_TRADER_WEBSERVER_URL",
            help="Submit to this running Dagster webserver (its daemon runs it); default: run in-process.",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With --webserver: follow the backfill to its end.")
    ] = True,
) -> None:
    """Backfill market data for a layer or symbols through Dagster (shown in the UI).

    Prints the plan (sessions, symbols, datasets, provider requests and time at the configured rate
    limits), then submits it to the running webserver, or executes its runs in this process against
    the Dagster instance at DAGSTER_HOME.
    """
    from ai_trader_assets.planning.backfill_launch import (
        BackfillLaunchError,
        WebserverClient,
        record_requests,
    )
    from ai_trader_assets.planning.backfill_plan import BackfillPlanner, parse_datasets
    from ai_trader_assets.providers import build_flatfiles
    from ai_trader_assets.storage.companies import CompaniesRepository
    from ai_trader_assets.storage.ledger import Ledger

    with market_database() as database:
        settings = load_settings()
        config = cached_config(str(settings.config_dir))
        planner = BackfillPlanner(
            CompaniesRepository(database),
            Ledger(database),
            config,
            settings.today(),
            settings.provider,
            now=settings.now(),
            reddit=settings.access.configured("reddit"),
            flatfiles=None
            if source == "rest"
            else build_flatfiles(config, settings.access, settings.home / "ratelimits"),
            source=source,
        )
        plan = planner.plan(symbols, days, parse_datasets(datasets), refresh=refresh)
        _print_plan(plan)
        if dry_run:
            console.print("dry run: nothing fetched, nothing launched")
            return
        try:
            client = WebserverClient(webserver) if webserver else None
            if client:
                client.check()  # before anything is recorded
            reason = f"ai-trader backfill --symbols {symbols}" + (f" --days {days}" if days else "")
            launches = record_requests(database, config, plan, f"{reason} (by {getpass.getuser()})", refresh)
            if not launches:
                console.print("nothing to fetch: storage already has every pair (--refresh refetches)")
                return
            ok = (
                _submit_to_webserver(client, launches, wait)
                if client
                else _run_in_process(settings, launches)
            )
        except BackfillLaunchError as exc:
            fail(exc)
    if not ok:
        raise typer.Exit(code=1)


def _print_plan(plan: "BackfillPlan") -> None:
    window = f"last {plan.days} calendar days" if plan.days else "each dataset's cold window (retention.yaml)"
    table = Table(
        "layer",
        "dataset",
        "sessions",
        "from",
        "to",
        "symbols",
        "to fetch",
        "requests",
        "via",
        title=f"backfill plan as of {plan.today}: {window}",
        box=box.SIMPLE_HEAD,
    )
    for layer in plan.layers:
        for d in layer.datasets:
            table.add_row(
                str(layer.layer),
                d.dataset.value,
                str(len(d.sessions)),
                str(d.first),
                str(d.last),
                str(len(layer.symbols)),
                f"{d.missing_pairs}/{len(d.sessions) * len(layer.symbols)}",
                str(d.requests),
                d.via,
            )
    console.print(table)
    for layer in plan.layers:
        shown = ", ".join(layer.symbols[:12]) + (
            f" and {len(layer.symbols) - 12} more" if len(layer.symbols) > 12 else ""
        )
        console.print(f"layer {layer.layer} symbols: {shown}")
    limit = plan.rate_limit
    console.print(
        f"{plan.partitions} partition(s) in {plan.runs} run(s) (sized by rows: pipeline.yaml runs); "
        "'to fetch' = (session, symbol) pairs not yet stored"
    )
    files = plan.from_files
    if files:
        size = sum(f.bytes for f in files) / 2**30
        replaced = sum(f.rest_requests for f in files)
        console.print(
            f"via flat files: {sum(f.objects for f in files)} objects, ~{size:.2f} GiB, "
            f"{duration(sum(f.seconds for f in files))} (Massive's S3), instead of {replaced} REST "
            f"requests, {duration(sum(f.rest_seconds for f in files))} at the sustained rate limit",
            highlight=False,
        )
    console.print(
        f"via REST: about {plan.requests} {plan.provider} request(s), "
        f"{duration(plan.estimated_seconds)} at {limit.requests_per_second}/s, "
        f"{limit.requests_per_minute}/min (providers.yaml)",
        highlight=False,
    )
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def _submit_to_webserver(client: "WebserverClient", launches: "list[LayerLaunch]", wait: bool) -> bool:
    from ai_trader_assets.planning.backfill_launch import BackfillProgress

    launched = []
    for launch in launches:
        for part in range(len(launch.parts)):
            backfill_id = client.launch(launch, part)
            launched.append((launch, backfill_id))
            console.print(
                f"launched backfill {backfill_id} ({launch.title(part)}): {client.backfill_url(backfill_id)}"
            )
    if not wait:
        return True
    results: dict[str, BackfillProgress] = {}
    with progress_bar() as progress:
        tasks = {
            backfill_id: progress.add_task(f"layer {launch.layer} backfill {backfill_id}", total=None)
            for launch, backfill_id in launched
        }
        while len(results) < len(launched):
            for backfill_id, task in tasks.items():
                if backfill_id in results:
                    continue
                state = client.progress(backfill_id)
                progress.update(
                    task, total=state.targeted or None, completed=state.materialized + state.failed
                )
                if state.finished:
                    results[backfill_id] = state
            if len(results) < len(launched):
                time.sleep(2)
    ok = True
    for backfill_id, state in results.items():
        if not state.succeeded:
            ok = False
            errors.print(
                f"[bold red]error:[/] backfill {backfill_id} ended {state.status} with {state.failed} failed "
                f"partition(s); see {client.backfill_url(backfill_id)}",
                highlight=False,
            )
    return ok


def _run_in_process(settings: Settings, launches: "list[LayerLaunch]") -> bool:
    # The code location itself runs here: its definitions (and Dagster) load only for this.
    from ai_trader_assets.cli.in_process import InProcessRunner
    from ai_trader_assets.definitions import defs
    from ai_trader_assets.planning.backfill_launch import planned_runs

    runs = list(planned_runs(launches))
    with dagster_instance(settings) as instance:
        return _execute_runs(InProcessRunner(instance, defs()), runs, settings)


def _execute_runs(runner: "InProcessRunner", runs: "list[PlannedRun]", settings: Settings) -> bool:
    console.print(
        f"running {len(runs)} run(s) in-process, recorded in the Dagster instance at {settings.dagster_home}"
    )
    failed = []
    with progress_bar() as progress:
        task = progress.add_task("partitions", total=sum(r.partitions for r in runs))
        for run in runs:
            progress.update(task, description=run.describe())
            run_id, ok = runner.execute(run)
            if not ok:
                failed.append((run, run_id))
            progress.advance(task, run.partitions)
        progress.update(task, description="partitions")
    for run, run_id in failed:
        errors.print(
            f"[bold red]error:[/] run {run_id} failed ({run.describe()}); "
            "its log is in the Dagster UI under Runs",
            highlight=False,
        )
    return not failed
