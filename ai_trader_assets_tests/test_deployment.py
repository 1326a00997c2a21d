"""The deployment files (Dockerfile, docker-compose.yml, Helm values), checked offline.

No Docker engine, cluster or helm binary is needed: each file is validated against its tool's
published schema (vendored in ``deployment_schemas/``) and against the project itself: commands
parse with the installed CLIs, and ports, users, paths and instance settings agree across files.
"""

import copy
import importlib
import json
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import typer
import yaml
from dagster._core.workspace.config_schema import ensure_workspace_config

from ai_trader_assets.config import DEFAULT_CONFIG_DIR
from ai_trader_assets.settings import load_settings
from ai_trader_assets.storage import migrations
from ai_trader_assets_tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).parent / "deployment_schemas"
COMPOSE_FILE = ROOT / "docker-compose.yml"
HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
DOCKER_WORKSPACE = ROOT / "deploy" / "workspace.docker.yaml"

OUR_SERVICES = ("migrate", "code_location", "webserver", "daemon")
LONG_RUNNING = ("postgres", "code_location", "webserver", "daemon")
LOCATION_NAME = "ai_trader_assets"
MODULE = "ai_trader_assets.definitions"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - servers in containers listen on the container's interfaces
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY|TOKEN")
# The console scripts our containers run, as click commands (parsed, never invoked).
CLIS = {
    "dagster": ("dagster._cli", "cli"),
    "dagster-daemon": ("dagster._daemon.cli", "cli"),
    "dagster-webserver": ("dagster_webserver.cli", "cli"),
    "ai-trader": ("ai_trader_assets.cli", "app"),
}


# ------------------------------------------------------------------ Compose interpolation


class MissingVariableError(ValueError):
    pass


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>))"
)


def interpolate(value: str, env: Mapping[str, str], seen: set[str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
    ${VAR?error}, ${VAR:+alternative}, ${VAR+alternative}. Names read are added to ``seen``."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["invalid"] is not None or "$" in (match["arg"] or ""):
            raise ValueError(f"invalid or nested interpolation in {value!r}")
        name = match["braced"] or match["named"]
        seen.add(name)
        op, arg = match["op"] or "", match["arg"] or ""
        is_set = name in env
        usable = is_set and (env[name] != "" or not op.startswith(":"))
        if op.endswith("-"):
            return env[name] if usable else arg
        if op.endswith("?"):
            if not usable:
                raise MissingVariableError(f"{name}: {arg}")
            return env[name]
        if op.endswith("+"):
            return arg if usable else ""
        return env.get(name, "")

    return _VARIABLE.sub(replace, value)


def interpolate_all(node: Any, env: Mapping[str, str], seen: set[str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, seen)
    if isinstance(node, list):
        return [interpolate_all(item, env, seen) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_all(item, env, seen) for key, item in node.items()}
    return node


def raw_compose() -> dict[str, Any]:
    # yaml.safe_load resolves the x- anchors and `<<` merge keys as Compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    test_env = {"DAGSTER_PG_PASSWORD": "not-a-real-password"} if env is None else env
    return interpolate_all(raw_compose(), test_env, set())


# ------------------------------------------------------------------ Dockerfile


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile_stages() -> list[list[Instruction]]:
    """The Dockerfile's instructions per build stage (continuations joined, comments dropped)."""
    stages: list[list[Instruction]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:  # ARGs before the first FROM only parameterise the FROM lines
            stages[-1].append(Instruction(keyword.upper(), args.strip()))
    return stages


def final_stage() -> list[Instruction]:
    return dockerfile_stages()[-1]


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list), args
    return [str(item) for item in parsed]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in final_stage():
        if instruction.keyword == "ENV":
            for token in shlex.split(instruction.args):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def image_copies() -> dict[str, Path]:
    """Final-stage COPY from the build context: image path -> repository path."""
    copies: dict[str, Path] = {}
    workdir = PurePosixPath("/")
    for instruction in final_stage():
        if instruction.keyword == "WORKDIR":
            workdir = workdir / instruction.args
        if instruction.keyword != "COPY" or "--from=" in instruction.args:
            continue
        *sources, dest = [t for t in shlex.split(instruction.args) if not t.startswith("--")]
        for source in sources:
            target = workdir / dest
            if len(sources) > 1 or dest.endswith("/"):
                target = target / PurePosixPath(source).name
            copies[str(target)] = ROOT / source
    return copies


def repo_path(image_path: str) -> Path:
    """Where a path inside the image comes from in the repository (KeyError if from nowhere)."""
    for dest, source in image_copies().items():
        if image_path == dest or image_path.startswith(dest + "/"):
            return source / image_path[len(dest) :].lstrip("/")
    raise KeyError(image_path)


def image_uid() -> int:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    return int(users[-1].split(":")[0])


# ------------------------------------------------------------------ .dockerignore


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(parts) + "$")


def excluded_from_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip().strip("/"))
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# ------------------------------------------------------------------ commands


def parse_command(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse argv as its console script would (never run it): the command path and its parameters.

    Image paths are mapped to the files they are copied from, so path options that must exist
    are checked against the repository.
    """
    module, attribute = CLIS[argv[0]]
    root = getattr(importlib.import_module(module), attribute)
    # Typer ships its own copy of click, so commands are duck-typed rather than click's classes.
    command: Any = typer.main.get_command(root) if isinstance(root, typer.Typer) else root
    args = [_map_image_path(arg) for arg in argv[1:]]
    names, context = [argv[0]], None
    while hasattr(command, "resolve_command"):
        context = command.context_class(command, info_name=names[-1], parent=context)
        name, sub, args = command.resolve_command(context, args)
        assert name is not None and sub is not None, argv
        names.append(name)
        command = sub
    parsed = command.make_context(names[-1], list(args), parent=context)
    return " ".join(names), parsed.params


def _map_image_path(arg: str) -> str:
    try:
        return str(repo_path(arg)) if arg.startswith("/") else arg
    except KeyError:
        return arg


def shell_commands(argv: list[str]) -> list[list[str]]:
    """A `sh -c "a && b"` command as its parts; any other command as itself."""
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in argv[2].split("&&")]
    return [argv]


def service_command(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return exec_form(next(i.args for i in final_stage() if i.keyword == "CMD"))
    assert isinstance(command, list), "commands in exec form, so signals reach the process"
    return [str(part) for part in command]


# ------------------------------------------------------------------ tests: docker-compose.yml


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []

    misspelt = compose()
    misspelt["services"]["webserver"]["healthcheck"]["intervall"] = "5s"
    assert not validator.is_valid(misspelt), "the schema check must catch a misspelt key"


def test_the_password_is_required_and_no_secret_has_a_default() -> None:
    with pytest.raises(MissingVariableError, match="DAGSTER_PG_PASSWORD"):
        compose(env={})
    with pytest.raises(MissingVariableError, match="DAGSTER_PG_PASSWORD"):
        compose(env={"DAGSTER_PG_PASSWORD": ""})
    for name, service in raw_compose()["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(variable):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*|:-)?\}", str(value)), (
                    f"{name}.{variable} must come from the environment with no default, not {value!r}"
                )


def test_every_variable_compose_reads_is_documented() -> None:
    seen: set[str] = set()
    interpolate_all(raw_compose(), {"DAGSTER_PG_PASSWORD": "x"}, seen)
    readme = (ROOT / "deploy" / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, flags=re.MULTILINE))
    assert "POLYGON_API_KEY" in seen and "AWS_SECRET_ACCESS_KEY" in seen
    assert seen - documented == set()


def test_services_run_unprivileged_with_health_checks_in_order() -> None:
    services = compose()["services"]
    assert set(services) >= {"postgres", *OUR_SERVICES}
    ours = {services[name]["image"] for name in OUR_SERVICES}
    assert len(ours) == 1, "one image for every role"
    uid = image_uid()
    assert uid != 0
    for name in OUR_SERVICES:
        assert services[name]["user"].split(":")[0] == str(uid), name
    for name in LONG_RUNNING:
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and not services[name]["healthcheck"].get("disable"), name
        assert services[name]["restart"] == "unless-stopped", name
    assert "healthcheck" not in services["migrate"] and services["migrate"]["restart"] == "no"

    def condition(service: str, dependency: str) -> str:
        return str(services[service]["depends_on"][dependency]["condition"])

    assert condition("migrate", "postgres") == "service_healthy"
    for name in ("code_location", "webserver", "daemon"):
        assert condition(name, "migrate") == "service_completed_successfully", name


def test_commands_and_health_checks_parse_with_the_installed_clis() -> None:
    services = compose()["services"]
    parsed = {}
    for name in OUR_SERVICES:
        for argv in shell_commands(service_command(services[name])):
            path, params = parse_command(argv)
            parsed[path] = params
        test = services[name].get("healthcheck", {}).get("test", ["CMD", "python"])
        if test[1] != "python":  # the webserver's is run for real below
            parse_command(test[1:])
    assert {"ai-trader db upgrade", "ai-trader lake migrate", "dagster instance migrate"} <= set(parsed)

    server = parsed["dagster code-server start"]
    assert (server["module_name"], server["location_name"]) == (MODULE, LOCATION_NAME)
    assert server["host"] == ALL_INTERFACES
    workspace_files = {parsed["dagster-webserver"]["workspace"], parsed["dagster-daemon run"]["workspace"]}
    assert workspace_files == {(str(DOCKER_WORKSPACE),)}
    assert services["webserver"]["ports"][0].rsplit(":", 1)[1] == str(parsed["dagster-webserver"]["port"])
    exposed = {int(p) for i in final_stage() if i.keyword == "EXPOSE" for p in i.args.split()}
    assert {server["port"], parsed["dagster-webserver"]["port"]} <= exposed

    # Dagster's own workspace schema, then the address of the compose service serving the code.
    workspace = ensure_workspace_config(yaml.safe_load(DOCKER_WORKSPACE.read_text()), str(DOCKER_WORKSPACE))
    assert workspace["load_from"] == [
        {"grpc_server": {"host": "code_location", "port": server["port"], "location_name": LOCATION_NAME}}
    ]
    assert importlib.import_module(MODULE).defs is not None


class _Status(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output


@pytest.fixture
def status_server() -> Iterator[tuple[int, type[_Status]]]:
    handler = type("Handler", (_Status,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_webserver_health_check_fails_on_anything_but_2xx(status_server: tuple[int, type[_Status]]) -> None:
    test = compose()["services"]["webserver"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and "127.0.0.1:3000/server_info" in test[3]
    port, handler = status_server

    def exit_code(target_port: int) -> int:
        snippet = test[3].replace("127.0.0.1:3000", f"127.0.0.1:{target_port}")
        return subprocess.run(
            [sys.executable, "-c", snippet], check=False, capture_output=True, timeout=30
        ).returncode

    for status, expected in ((200, 0), (204, 0), (404, 1), (500, 1), (503, 1)):
        handler.status = status
        assert exit_code(port) == expected, status
    assert exit_code(free_port()) == 1, "nothing listening"


def test_code_location_environment_passes_the_settings_loader() -> None:
    config = compose()
    environment = {**image_env(), **config["services"]["code_location"]["environment"]}
    environment["AI_TRADER_CONFIG_DIR"] = str(repo_path(environment["AI_TRADER_CONFIG_DIR"]))
    settings = load_settings(environment)
    assert settings.database_url.drivername == "postgresql+psycopg"
    assert settings.database_url.host == "postgres" and settings.provider == "demo"
    created = re.findall(r"CREATE DATABASE (\w+)", config["configs"]["create_market_db"]["content"])
    assert created == [settings.database_url.database]
    mounts = {volume.split(":")[1] for volume in config["services"]["code_location"]["volumes"]}
    assert settings.lake_url in mounts and str(settings.home) in mounts


# ------------------------------------------------------------------ tests: Dockerfile


def test_image_runs_as_a_non_root_user_before_its_command() -> None:
    keywords = [i.keyword for i in final_stage()]
    assert "USER" in keywords and keywords.index("USER") < keywords.index("CMD")
    assert "ENTRYPOINT" not in keywords
    user = next(i.args for i in final_stage() if i.keyword == "USER")
    assert re.fullmatch(r"\d+:\d+", user) and image_uid() != 0, "numeric, for Kubernetes' runAsNonRoot"


def test_image_copies_exist_and_are_in_the_build_context() -> None:
    sources = []
    for stage in dockerfile_stages():
        for instruction in stage:
            if instruction.keyword == "COPY" and "--from=" not in instruction.args:
                sources += [t for t in shlex.split(instruction.args) if not t.startswith("--")][:-1]
    assert sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative:
                assert not excluded_from_context(relative), f"{relative} is excluded by .dockerignore"
    for private in (".env", ".venv/bin/python", ".ai_trader/market.db", "ai_trader_assets_tests/conftest.py"):
        assert excluded_from_context(private), private


def pip_install() -> tuple[PurePosixPath, list[str]]:
    """The image's one `pip install`: the folder it runs in and its arguments."""
    workdir, installs = PurePosixPath("/"), []
    for instruction in final_stage():
        if instruction.keyword == "WORKDIR":
            workdir = workdir / instruction.args
        if instruction.keyword == "RUN" and "pip install" in instruction.args:
            installs.append((workdir, shlex.split(instruction.args.split("pip install", 1)[1])))
    assert len(installs) == 1
    return installs[0]


def test_image_keeps_the_project_layout_the_package_relies_on() -> None:
    env = image_env()
    assert repo_path(env["AI_TRADER_CONFIG_DIR"]) == ROOT / "config"
    assert repo_path(env["DAGSTER_HOME"] + "/dagster.yaml") == ROOT / "dagster.yaml"
    # The package finds config/ and migrations/ beside its own folder, and dg reads pyproject.toml's
    # [tool.dg] at run time: the image installs the project editable from a folder that mirrors the
    # repository for each of them (a regular install into site-packages would break both).
    package_root = Path(migrations.__file__).resolve().parents[2]
    assert migrations.MIGRATIONS_DIR.relative_to(package_root) == Path("migrations")
    assert DEFAULT_CONFIG_DIR.relative_to(package_root) == Path("config")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["dg"]["project"]["root_module"] == "ai_trader_assets"
    project, args = pip_install()
    assert args[:2] == ["-e", "."], "editable, from the project folder"
    for name in ("pyproject.toml", "ai_trader_assets", "config", "migrations"):
        assert repo_path(f"{project}/{name}") == ROOT / name


def test_image_installs_dagster_k8s_on_the_dagster_postgres_line() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [postgres] = [d for d in dependencies if d.startswith("dagster-postgres")]
    _, args = pip_install()
    assert "dagster-k8s" + postgres.removeprefix("dagster-postgres") in args


# ------------------------------------------------------------------ tests: Helm values


def helm_schema() -> dict[str, Any]:
    """The chart's schema, with the newer keys we use patched in and Kubernetes types opaque.

    The Kubernetes definitions are remote (kubernetesjsonschema.dev) and not fetched offline; the API
    server validates those objects at install.
    """
    schema = json.loads((SCHEMAS / "dagster-helm-values.schema.json").read_text())
    supplement = json.loads((SCHEMAS / "dagster-helm-values.supplement.schema.json").read_text())
    schema["properties"]["concurrency"] = supplement["definitions"]["Concurrency"]
    schema["definitions"]["Daemon"]["properties"]["runRetries"] = supplement["definitions"]["RunRetries"]

    def drop_remote_refs(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: drop_remote_refs(value)
                for key, value in node.items()
                if not (key == "$ref" and str(value).startswith("http"))
            }
        if isinstance(node, list):
            return [drop_remote_refs(item) for item in node]
        return node

    return drop_remote_refs(schema)  # type: ignore[no-any-return]


def without_required(node: Any) -> Any:
    """A values file overrides the chart's defaults, and Helm validates the merge: a key the chart's
    defaults provide need not be repeated here. List items are not merged, so those keep theirs."""
    if isinstance(node, dict):
        return {key: without_required(value) for key, value in node.items() if key != "required"}
    if isinstance(node, list):
        return [without_required(item) for item in node]
    return node


def helm_values() -> dict[str, Any]:
    return yaml.safe_load(HELM_VALUES.read_text())


def helm_errors(values: Mapping[str, Any]) -> list[str]:
    schema = helm_schema()
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(without_required(schema)).iter_errors(values)
    ]
    whole_items = [
        ("UserDeployment", values["dagster-user-deployments"]["deployments"]),
        ("TagConcurrencyLimit", values["concurrency"]["runs"]["tagConcurrencyLimits"]),
        ("Server", values["dagsterWebserver"]["workspace"]["servers"]),
    ]
    for definition, items in whole_items:
        item_schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
        errors += [
            f"{definition}: {e.message}"
            for item in items
            for e in jsonschema.Draft7Validator(item_schema).iter_errors(item)
        ]
    return errors + unknown_keys(values, schema, schema)


def unknown_keys(value: Any, node: Mapping[str, Any], root: Mapping[str, Any], path: str = "") -> list[str]:
    """Keys the chart's schema does not name (where it names its keys): typos the chart would ignore."""
    branches = [_resolve(node, root)]
    branches += [_resolve(b, root) for b in branches[0].get("anyOf", []) + branches[0].get("oneOf", [])]
    if isinstance(value, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        return [
            e
            for i, item in enumerate(value)
            for s in items
            for e in unknown_keys(item, s, root, f"{path}[{i}]")
        ]
    if not isinstance(value, dict):
        return []
    properties = {key: sub for b in branches for key, sub in (b.get("properties") or {}).items()}
    if not properties:
        return []
    problems = []
    for key, item in value.items():
        if key not in properties:
            problems.append(f"{path}.{key}: not a key of the chart")
        else:
            problems += unknown_keys(item, properties[key], root, f"{path}.{key}")
    return problems


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node and str(node["$ref"]).startswith("#/definitions/"):
        node = root["definitions"][node["$ref"].removeprefix("#/definitions/")]
    return node


def test_helm_values_validate_against_the_chart_schema() -> None:
    assert helm_errors(helm_values()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["runLauncher", "type"], "K8sRunLaunchr"),
        (["dagsterDaemon", "runRetries", "maxRetry"], 2),
        (["dagster-user-deployments", "deployments", 0, "port"], "4000"),
        (["postgresql", "postgresqlHostname"], "db"),
        (["concurrency", "pools", "granularity"], "step"),
    ],
)
def test_helm_schema_check_catches_mistakes(path: list[Any], value: Any) -> None:
    values = copy.deepcopy(helm_values())
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert helm_errors(values) != []


def test_helm_runs_our_module_in_pods_as_our_user() -> None:
    values = helm_values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    # The chart runs `dagster api grpc -h 0.0.0.0 -p <port> <dagsterApiGrpcArgs>`.
    chart_command = ["dagster", "api", "grpc", "-h", ALL_INTERFACES, "-p", str(deployment["port"])]
    _, grpc = parse_command([*chart_command, *deployment["dagsterApiGrpcArgs"]])
    assert (grpc["module_name"], grpc["location_name"]) == (MODULE, LOCATION_NAME)
    [server] = values["dagsterWebserver"]["workspace"]["servers"]
    assert server == {"host": deployment["name"], "port": deployment["port"], "name": LOCATION_NAME}
    _, code_server = parse_command(exec_form(next(i.args for i in final_stage() if i.keyword == "CMD")))
    assert deployment["port"] == code_server["port"]
    assert deployment["podSecurityContext"]["runAsUser"] == image_uid()
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["securityContext"]["runAsUser"] == image_uid()
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert deployment["envSecrets"], "secrets come from a Kubernetes Secret"
    for variable in deployment["env"]:
        assert not SECRET_NAME.search(variable["name"]) and variable["name"] != "AI_TRADER_DATABASE_URL"
    env = {variable["name"]: variable["value"] for variable in deployment["env"]}
    assert env["AI_TRADER_LAKE_URL"].startswith("s3://"), "run pods share no disk"


def test_helm_instance_settings_mirror_dagster_yaml() -> None:
    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    values = helm_values()
    concurrency = values["concurrency"]
    assert concurrency["enabled"]
    runs, pools = instance["concurrency"]["runs"], instance["concurrency"]["pools"]
    assert concurrency["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    assert (concurrency["pools"]["defaultLimit"], concurrency["pools"]["granularity"]) == (
        pools["default_limit"],
        pools["granularity"],
    )
    # The chart fails when run limits are set both here and on the run coordinator.
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] is None and queued["tagConcurrencyLimits"] == []
    coordinator = instance["run_coordinator"]["config"]
    assert queued["dequeueIntervalSeconds"] == coordinator["dequeue_interval_seconds"]
    retries = values["dagsterDaemon"]["runRetries"]
    assert (retries["enabled"], retries["maxRetries"], retries["retryOnAssetOrOpFailure"]) == (
        instance["run_retries"]["enabled"],
        instance["run_retries"]["max_retries"],
        instance["run_retries"]["retry_on_asset_or_op_failure"],
    )
    assert values["telemetry"]["enabled"] == instance["telemetry"]["enabled"]
    storage = instance["storage"]["postgres"]["postgres_db"]
    assert values["postgresql"]["postgresqlScheme"] == storage["scheme"]
