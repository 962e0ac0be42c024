"""The deployment files: each parses, says what the runbook says, and runs only real options.

Command lines in deploy/ and in the docs are checked twice: against the CLI contract written
here (always), and against the click command itself (once ``PaymentProcess.argument``
imports). ``systemd-analyze verify`` and ``logrotate -d`` run where those tools exist.
"""

from __future__ import annotations

import configparser
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
K8S = DEPLOY / "k8s"
OPERATOR = K8S / "operator"
PODS = [K8S / "cronjob.yaml", OPERATOR / "job-dry-run.yaml", OPERATOR / "job-resume.yaml",
        OPERATOR / "job-approve.yaml"]
DOCS = [ROOT / "docs" / "operations.md", DEPLOY / "README.md"]

ENV_VARS = [
    "PAYMENT_DB_URI",
    "PAYMENT_LOG_LEVEL",
    "PAYMENT_CONFIG_PATH",
    "PAYMENT_MAX_WORKERS",
    "PAYMENT_BATCH_SIZE",
    "PAYMENT_LOG_DIR",
    "PAYMENT_EVENT_ID",
    "PAYMENT_REMITTANCE_DIR",
]
CONFIG_KEYS = {"workers", "batch_size", "log_level", "pc_type", "log_dir"}
PYTHON = "/opt/paymentprocess/.venv/bin/python"
SERVICE_USER = "paymentuser"
ENV_FILE = "/etc/paymentprocess/env"
WORKDIR = "/opt/paymentprocess"
IMAGE_UID = "10001"


# --- the CLI's options -------------------------------------------------------------------
# An option spec maps each spelling to (takes_no_value, allowed values or None, canonical
# name). ``required`` is the set of canonical names every full command line must give.


def _contract_spec() -> tuple[dict, set[str]]:
    choices = {
        "--mode": {"dry-run", "final"},
        "--log-level": {"DEBUG", "INFO", "WARNING", "ERROR"},
        "--pc-type": {"provider", "dmr"},
    }
    spellings = {
        "--payment-event-id": ["-p"],
        "--mode": ["-m"],
        "--workers": [],
        "--batch-size": [],
        "--log-level": [],
        "--config-path": [],
        "--db-uri": [],
        "--pc-type": [],
    }
    spec = {}
    for name, short in spellings.items():
        for spelling in [name, *short]:
            spec[spelling] = (False, choices.get(name), name)
    for flag in ("--resume", "--validate-only", "--json", "--help"):
        spec[flag] = (True, None, flag)
    return spec, {"--payment-event-id", "--mode"}


def _click_spec() -> tuple[dict, set[str]]:
    try:
        from PaymentProcess.argument import build_arg_parser
    except ImportError as exc:
        pytest.skip(f"the CLI (PaymentProcess.argument) is not importable yet: {exc}")
    import click

    command = build_arg_parser()
    assert isinstance(command, click.Command), "build_arg_parser() must return a click.Command"
    spec, required = {}, set()
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        canonical = max(param.opts, key=len)
        choices = None
        if isinstance(param.type, click.Choice):
            choices = {str(c) for c in param.type.choices}
            if not param.type.case_sensitive:
                choices |= {c.lower() for c in choices} | {c.upper() for c in choices}
        for opt in param.opts:
            spec[opt] = (param.is_flag or param.count, choices, canonical)
        for opt in param.secondary_opts:
            spec[opt] = (True, None, canonical)
        if param.required:
            required.add(canonical)
    for opt in click.Context(command).help_option_names:
        spec[opt] = (True, None, "--help")
    return spec, required


def _option_problems(args: list[str], spec: dict, required: set[str]) -> list[str]:
    problems, given, i = [], set(), 0
    while i < len(args):
        token = args[i]
        name, has_eq, value = token.partition("=")
        if not token.startswith("-") or name not in spec:
            problems.append(f"not an option of the CLI: {token!r}")
            i += 1
            continue
        no_value, choices, canonical = spec[name]
        given.add(canonical)
        i += 1
        if no_value:
            if has_eq:
                problems.append(f"{name} takes no value")
            continue
        if not has_eq:
            if i >= len(args):
                problems.append(f"{name} needs a value")
                break
            value, i = args[i], i + 1
        if choices is not None and value not in choices:
            problems.append(f"{name} {value!r} is not one of {sorted(choices)}")
    if "--help" not in given:
        problems += [f"missing required {r}" for r in sorted(required - given)]
    return problems


# --- where command lines live -------------------------------------------------------------


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    with path.open() as f:
        parser.read_file(f)
    return parser


def _exec_start(path: Path) -> list[str]:
    return shlex.split(_unit(path)["Service"]["ExecStart"])


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def _docker_json(instruction: str) -> list[str]:
    (rest,) = [r for i, r in _dockerfile() if i == instruction]
    return json.loads(rest)


def _yaml_docs(path: Path) -> list[dict]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def _one(path: Path) -> dict:
    (doc,) = _yaml_docs(path)
    return doc


def _pod_spec(path: Path) -> dict:
    doc = _one(path)
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def _container(path: Path) -> dict:
    (container,) = _pod_spec(path)["containers"]
    return container


def _after_module(argv: list[str]) -> list[str]:
    """The CLI's own arguments in a command that starts the engine."""
    for marker in ("PaymentProcess.main", "main.py", "paymentprocess"):
        if marker in argv:
            return argv[argv.index(marker) + 1 :]
    raise AssertionError(f"no engine invocation in {argv}")


def _doc_command_lines() -> list[tuple[str, list[str]]]:
    """Every command in the docs' code blocks that starts a run (it names a --mode)."""
    found = []
    for doc in DOCS:
        blocks = re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(), flags=re.S)
        inline = re.findall(r"`([^`\n]*--mode [^`\n]*)`", doc.read_text())
        for text in [*blocks, *inline]:
            text = re.sub(r"\\\n\s*", " ", text)
            for line in text.splitlines():
                line = line.split(" #", 1)[0].strip()
                if "--mode" not in line or "ARGS" in line:
                    continue
                argv = shlex.split(line)
                found.append((f"{doc.name}: {line}", _after_module(argv)))
    return found


COMMAND_LINES = [
    (
        "paymentprocess.service ExecStart",
        _after_module(_exec_start(SYSTEMD / "paymentprocess.service")),
    ),
    ("Dockerfile CMD", _docker_json("CMD")),
    ("cronjob.yaml args", _container(K8S / "cronjob.yaml")["args"]),
    ("job-dry-run.yaml args", _container(OPERATOR / "job-dry-run.yaml")["args"]),
    ("job-resume.yaml args", _container(OPERATOR / "job-resume.yaml")["args"]),
    *_doc_command_lines(),
]
COMMAND_IDS = [name for name, _ in COMMAND_LINES]


def test_the_docs_command_lines_are_found():
    # Guards the check below against a docs format change that would make it vacuous.
    assert len(_doc_command_lines()) >= 6


@pytest.mark.parametrize(("where", "args"), COMMAND_LINES, ids=COMMAND_IDS)
def test_command_lines_use_only_contract_options(where, args):
    assert _option_problems(args, *_contract_spec()) == [], where


@pytest.mark.parametrize(("where", "args"), COMMAND_LINES, ids=COMMAND_IDS)
def test_command_lines_use_only_options_of_the_real_cli(where, args):
    assert _option_problems(args, *_click_spec()) == [], where


def test_option_checker_catches_mistakes():
    spec, required = _contract_spec()
    assert _option_problems(["--mode", "final", "-p", "PE"], spec, required) == []
    assert _option_problems(["--mode", "FINAL", "-p", "PE"], spec, required)
    assert _option_problems(["--mode", "final", "-p", "PE", "--resum"], spec, required)
    assert _option_problems(["--mode", "final"], spec, required)
    assert _option_problems(["--mode", "final", "-p", "PE", "--resume=yes"], spec, required)


# --- systemd -------------------------------------------------------------------------------


def test_service_runs_the_final_run_as_the_service_user():
    unit = _unit(SYSTEMD / "paymentprocess.service")
    service = unit["Service"]
    assert service["Type"] == "oneshot"
    assert service["User"] == SERVICE_USER
    assert service["EnvironmentFile"] == ENV_FILE
    assert service["WorkingDirectory"] == WORKDIR
    argv = _exec_start(SYSTEMD / "paymentprocess.service")
    assert argv[:3] == [PYTHON, "-m", "PaymentProcess.main"]
    args = argv[3:]
    assert args[args.index("--mode") + 1] == "final"
    assert args[args.index("--payment-event-id") + 1] == "${PAYMENT_EVENT_ID}"
    assert "--resume" not in args, "resuming is an operator's decision, never scheduled"


def test_service_is_never_retried_killed_or_started_at_boot():
    unit = _unit(SYSTEMD / "paymentprocess.service")
    service = unit["Service"]
    assert service.get("Restart", "no") == "no"
    assert service["TimeoutStartSec"] == "infinity"
    assert not any(k.startswith("ExecStartPre") for k in service), "no scheduled dry run"
    assert not unit.has_section("Install"), "only the timer is enabled"
    assert service["LogsDirectory"] == "paymentprocess"
    assert service["LogsDirectoryMode"] == "0750"


def test_timer_is_weekly_and_persistent():
    unit = _unit(SYSTEMD / "paymentprocess.timer")
    timer = unit["Timer"]
    assert timer["Persistent"] == "true"
    assert timer["Unit"] == "paymentprocess.service"
    assert re.fullmatch(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \*-\*-\* \d\d:\d\d:\d\d UTC", timer["OnCalendar"]
    )
    assert unit["Install"]["WantedBy"] == "timers.target"


def test_hand_run_wrapper_runs_like_the_service():
    script = (DEPLOY / "bin" / "paymentprocess").read_text()
    assert os.access(DEPLOY / "bin" / "paymentprocess", os.X_OK)
    assert subprocess.run(["sh", "-n", str(DEPLOY / "bin" / "paymentprocess")]).returncode == 0
    for needed in (
        f"--uid={SERVICE_USER}",
        f"--property=EnvironmentFile={ENV_FILE}",
        f"--property=WorkingDirectory={WORKDIR}",
        f'{PYTHON} -m PaymentProcess.main "$@"',
        "--wait",  # the engine's exit status is the wrapper's
    ):
        assert needed in script


def test_hand_run_wrapper_runs_in_the_services_sandbox(tmp_path):
    """With a stand-in systemd-run that prints its arguments, one a line."""
    fake = tmp_path / "systemd-run"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}",
           "PAYMENTPROCESS_UNIT": str(SYSTEMD / "paymentprocess.service")}
    result = subprocess.run(["sh", str(DEPLOY / "bin" / "paymentprocess"), "--mode", "dry-run",
                             "-p", "PE *"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    argv = result.stdout.splitlines()
    unit = (SYSTEMD / "paymentprocess.service").read_text()
    sandbox = [ln for ln in unit.split("# Sandbox:")[1].splitlines()
               if re.match(r"[A-Za-z]+=", ln)]
    directories = [ln for ln in unit.splitlines()
                   if re.match(r"(LogsDirectory|StateDirectory|UMask)", ln)]
    properties = [a.removeprefix("--property=") for a in argv if a.startswith("--property=")]
    assert len(sandbox) > 25 and "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" in sandbox
    assert set(sandbox + directories) <= set(properties)
    assert argv[argv.index(PYTHON):] == [PYTHON, "-m", "PaymentProcess.main", "--mode",
                                         "dry-run", "-p", "PE *"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    system_units = Path("/usr/lib/systemd/system")
    if not system_units.is_dir():
        pytest.skip("no /usr/lib/systemd/system to resolve the units' dependencies against")
    # A root holding the system's units, ours and a stand-in for the venv's python, so that
    # verify checks everything but the real installation.
    shutil.copytree(system_units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    stub = tmp_path / PYTHON.lstrip("/")
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    etc = tmp_path / "etc/systemd/system"
    etc.mkdir(parents=True)
    names = ["paymentprocess.service", "paymentprocess.timer"]
    for name in names:
        shutil.copy(SYSTEMD / name, etc / name)
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            f"--root={tmp_path}",
            *[f"/etc/systemd/system/{n}" for n in names],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "--root" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --root")
    # Unknown keys and bad values are only warnings (exit 0): any line about our files fails.
    ours = [ln for ln in result.stderr.splitlines() if "paymentprocess" in ln]
    assert result.returncode == 0 and not ours, result.stderr
    calendar = _unit(SYSTEMD / "paymentprocess.timer")["Timer"]["OnCalendar"]
    assert (
        subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True).returncode
        == 0
    )


def _exposure(unit: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "security", "--offline=true", unit.name],
                          cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_service_sandbox_rates_ok_in_systemd_analyze_security(tmp_path):
    shutil.copy(SYSTEMD / "paymentprocess.service", tmp_path)
    result = _exposure(tmp_path / "paymentprocess.service", tmp_path)
    if "--offline" in result.stderr and ("unrecognized" in result.stderr
                                         or "Unknown" in result.stderr):
        pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()}")
    level = re.search(r"Overall exposure level for paymentprocess\.service: (\d+\.\d)",
                      result.stdout)
    assert level, result.stdout + result.stderr
    assert float(level.group(1)) <= 4.0, result.stdout
    # the check measures: the unit as it was before the sandbox rates EXPOSED
    bare = tmp_path / "bare"
    bare.mkdir()
    unit = (SYSTEMD / "paymentprocess.service").read_text()
    (bare / "paymentprocess.service").write_text(unit.split("# Sandbox:")[0])
    before = re.search(r"exposure level for paymentprocess\.service: (\d+\.\d)",
                       _exposure(bare / "paymentprocess.service", bare).stdout)
    assert float(before.group(1)) > 8.0


def test_service_sandbox_allows_only_what_the_engine_needs():
    service = _unit(SYSTEMD / "paymentprocess.service")["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert service["StateDirectory"] == "paymentprocess"
    assert "SystemCallFilter" in service and service["NoNewPrivileges"] == "true"


# --- logrotate -----------------------------------------------------------------------------


def _logrotate_directives() -> list[str]:
    text = (DEPLOY / "logrotate" / "paymentprocess").read_text()
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_logrotate_rotates_without_copytruncate():
    directives = _logrotate_directives()
    assert directives[0] == "/var/log/paymentprocess/*.log {"
    assert directives[-1] == "}"
    for needed in ("daily", "rotate 14", "compress", f"create 0640 {SERVICE_USER} {SERVICE_USER}"):
        assert needed in directives
    assert not any("copytruncate" in d for d in directives)
    assert "postrotate" not in directives, "a oneshot batch has nothing to reload"


@pytest.mark.skipif(not shutil.which("logrotate"), reason="logrotate not installed")
def test_logrotate_accepts_the_file(tmp_path):
    # Owners replaced by the current ones: paymentuser need not exist on this machine.
    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o750)
    (logs / "paymentprocess.log").write_text('{"event": "x"}\n')
    text = (DEPLOY / "logrotate" / "paymentprocess").read_text()
    text = text.replace("/var/log/paymentprocess", str(logs))
    text = text.replace(f"{SERVICE_USER} {SERVICE_USER}", f"{me} {group}")
    conf = tmp_path / "paymentprocess.conf"
    conf.write_text(text)
    result = subprocess.run(
        ["logrotate", "-d", "-s", str(tmp_path / "state"), str(conf)],
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "error" not in output.lower(), output


# --- environment files ---------------------------------------------------------------------


def _env_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _mentioned(path: Path) -> dict[str, int]:
    """Variable -> line index, for `VAR=...` and commented-out `# VAR=...` lines."""
    found = {}
    for index, line in enumerate(_env_lines(path)):
        match = re.match(r"#?\s*(PAYMENT_[A-Z_]+)=", line)
        if match:
            found.setdefault(match.group(1), index)
    return found


@pytest.mark.parametrize(
    "path", [ROOT / ".env.template", DEPLOY / "env.example"], ids=lambda p: p.name
)
def test_env_files_document_every_variable(path):
    lines = _env_lines(path)
    mentioned = _mentioned(path)
    assert set(mentioned) == set(ENV_VARS)
    assignment = re.compile(r"#?\s*PAYMENT_[A-Z_]+=")
    for var, index in mentioned.items():
        above = index - 1  # a comment may head a group of assignments
        while above >= 0 and assignment.match(lines[above]):
            above -= 1
        assert above >= 0 and lines[above].startswith("#"), f"{var}: no comment in {path.name}"
    values = dotenv_values(path)
    assert set(values) <= set(ENV_VARS)
    assert values["PAYMENT_DB_URI"].startswith(("mongodb://", "mongodb+srv://"))
    assert values["PAYMENT_LOG_LEVEL"] in {"DEBUG", "INFO", "WARNING", "ERROR"}
    for var in ("PAYMENT_MAX_WORKERS", "PAYMENT_BATCH_SIZE"):
        assert int(values[var]) > 0


def test_systemd_env_file_has_plain_assignments_only():
    for line in _env_lines(DEPLOY / "env.example"):
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"PAYMENT_[A-Z_]+=[^\s'\"\\]*", line), line
    assert dotenv_values(DEPLOY / "env.example")["PAYMENT_LOG_DIR"] == "/var/log/paymentprocess"
    state = _unit(SYSTEMD / "paymentprocess.service")["Service"]["StateDirectory"]
    remittance = dotenv_values(DEPLOY / "env.example")["PAYMENT_REMITTANCE_DIR"]
    assert remittance.startswith(f"/var/lib/{state}/"), "the sandbox lets it write only there"


def test_env_template_points_at_a_config_file_that_exists():
    path = dotenv_values(ROOT / ".env.template")["PAYMENT_CONFIG_PATH"]
    assert (ROOT / path).is_file()


def test_example_config_uses_only_known_keys():
    config = yaml.safe_load((DEPLOY / "config" / "payment_config.yml").read_text())
    assert set(config) <= CONFIG_KEYS


# --- no secrets ----------------------------------------------------------------------------

PLACEHOLDER_CREDENTIALS = {("username", "password"), ("USER", "PASSWORD")}
URI_CREDENTIALS = re.compile(r"://([^:/@\s'\"]+):([^@\s'\"]+)@")
SECRET_SHAPES = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\b(ghp|gho|glpat|xox[baprs])[-_][A-Za-z0-9_-]{16,}"),
    # KEY=value or key: value on one line, where the key names a password, secret or token
    re.compile(
        r"(?i)\b\w*(password|passwd|secret|token|api_?key)\w*[ \t]*[:=][ \t]*['\"]?[^\s'\"]{6,}"
    ),
]


def _secret_problems(text: str) -> list[str]:
    problems = [
        f"credentials {user}:{password}"
        for user, password in URI_CREDENTIALS.findall(text)
        if (user, password) not in PLACEHOLDER_CREDENTIALS
    ]
    for shape in SECRET_SHAPES:
        problems += [f"looks like a secret: {m.group(0)}" for m in shape.finditer(text)]
    return problems


DEPLOY_FILES = sorted(p for p in DEPLOY.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "path", [*DEPLOY_FILES, ROOT / ".env.template"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_file_carries_a_real_looking_secret(path):
    assert _secret_problems(path.read_text()) == []


def test_secret_detector_detects():
    assert _secret_problems("PAYMENT_DB_URI=mongodb://svc_pay:Xk29!q@db.internal:27017/p")
    assert _secret_problems("MONGO_INITDB_ROOT_PASSWORD: hunter22")
    assert _secret_problems("key: AKIAABCDEFGHIJKLMNOP")
    assert not _secret_problems("mongodb+srv://username:password@cluster.example.com/payments")


# --- Docker --------------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_image_of_the_package():
    instructions = _dockerfile()
    kinds = [i for i, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert _docker_json("ENTRYPOINT") == ["python", "-m", "PaymentProcess.main"]
    (user,) = [r for i, r in instructions if i == "USER"]
    assert user.split(":")[0] not in {"root", "0"}
    assert user.split(":")[0] == IMAGE_UID
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")
    copies = [r for i, r in instructions if i == "COPY"]
    assert "requirements.txt ./" in copies
    assert any(c.startswith("PaymentProcess/") for c in copies)
    assert not any(".env" in c for c in copies)
    runs = " ".join(r for i, r in instructions if i == "RUN")
    assert "pip install" in runs and "-r requirements.txt" in runs
    assert f"--uid {IMAGE_UID}" in runs
    assert not any("PAYMENT_DB_URI" in r for i, r in instructions if i in {"ENV", "ARG"})


def test_build_context_leaves_env_files_out():
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "**"
    assert set(ignore) >= {"!requirements.txt", "!PaymentProcess/"}
    assert not any(".env" in line for line in ignore if line.startswith("!"))


def test_compose_runs_the_engine_against_a_replica_set():
    compose = _one(DEPLOY / "docker-compose.yml")
    services = compose["services"]
    assert set(services) == {"paymentprocess", "mongo"}
    app, mongo = services["paymentprocess"], services["mongo"]
    context = (DEPLOY / app["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / app["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    env_file = app["env_file"]
    assert env_file == ".env" or ".env" in env_file
    assert app["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert app["restart"] == "no"
    for volume in app["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (DEPLOY / source).is_file(), volume
    assert mongo["image"] == "mongo:7"
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    probe = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in probe and "'rs0'" in probe and "mongo:27017" in probe
    assert all(port.startswith("127.0.0.1:") for port in mongo.get("ports", []))
    for service in services.values():
        assert "environment" not in service or "PAYMENT_DB_URI" not in service["environment"]


# --- Kubernetes ----------------------------------------------------------------------------


def test_k8s_configmap_and_secret_split_the_environment():
    configmap, secret = _one(K8S / "configmap.yaml"), _one(OPERATOR / "secret.example.yaml")
    assert (configmap["apiVersion"], configmap["kind"]) == ("v1", "ConfigMap")
    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "Opaque")
    secret_data = secret["stringData"]
    assert set(secret_data) == {"PAYMENT_DB_URI"}
    assert secret_data["PAYMENT_DB_URI"].startswith(("mongodb://", "mongodb+srv://"))
    data = configmap["data"]
    assert set(data) <= set(ENV_VARS) - {"PAYMENT_DB_URI"}
    assert "PAYMENT_EVENT_ID" in data
    assert "PAYMENT_LOG_DIR" not in data, "logs go to stderr, the pod's log"
    assert all(isinstance(v, str) for v in data.values())


def test_k8s_cronjob_runs_the_final_run_once_at_a_time():
    cronjob = _one(K8S / "cronjob.yaml")
    assert (cronjob["apiVersion"], cronjob["kind"]) == ("batch/v1", "CronJob")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    assert "activeDeadlineSeconds" not in job
    args = _container(K8S / "cronjob.yaml")["args"]
    assert args[args.index("--mode") + 1] == "final"
    assert "--resume" not in args


def test_k8s_pods_read_the_configmap_and_the_secret_as_a_non_root_user():
    names = {_one(p)["metadata"]["name"]
             for p in (K8S / "configmap.yaml", OPERATOR / "secret.example.yaml")}
    for path in PODS:
        pod, container = _pod_spec(path), _container(path)
        assert pod["restartPolicy"] == "Never"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == IMAGE_UID
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        kinds = {next(iter(ref)) for ref in container["envFrom"]}
        assert refs == names and kinds == {"configMapRef", "secretRef"}
        assert "$(PAYMENT_EVENT_ID)" in container["args"]


def _without_args(pod: dict) -> dict:
    pod = json.loads(json.dumps(pod))
    for container in pod["containers"]:
        container.pop("args")
    return pod


@pytest.mark.parametrize(
    ("name", "mode", "resume"),
    [("job-dry-run.yaml", "dry-run", False), ("job-resume.yaml", "final", True)],
)
def test_k8s_operator_jobs_are_the_cronjob_pod_with_other_arguments(name, mode, resume):
    job = _one(OPERATOR / name)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert job["metadata"]["generateName"].endswith("-")
    assert job["spec"]["backoffLimit"] == 0
    assert _without_args(_pod_spec(OPERATOR / name)) == _without_args(
        _pod_spec(K8S / "cronjob.yaml"))
    args = _container(OPERATOR / name)["args"]
    assert args[args.index("--mode") + 1] == mode
    assert ("--resume" in args) is resume


def test_k8s_approve_job_is_the_cronjob_pod_running_the_controls():
    from PaymentProcess.controls.__main__ import cli

    job = _one(OPERATOR / "job-approve.yaml")
    assert job["metadata"]["generateName"] == "paymentprocess-approve-"
    assert job["spec"]["backoffLimit"] == 0
    pod = _pod_spec(OPERATOR / "job-approve.yaml")
    assert pod["containers"][0].pop("command") == ["python", "-m", "PaymentProcess.controls"]
    assert _without_args(pod) == _without_args(_pod_spec(K8S / "cronjob.yaml"))
    command, *args = _container(OPERATOR / "job-approve.yaml")["args"]
    assert command == "approve" and "$(PAYMENT_EVENT_ID)" in args  # expanded by Kubernetes
    args = [a.replace("$(PAYMENT_EVENT_ID)", "PE-2026-11-20") for a in args]
    context = cli.commands[command].make_context(command, args)
    assert (context.params["run_id"], context.params["approver"]) == (
        "SET-THE-DRY-RUN-ID", "SET-YOUR-NAME")


def test_every_k8s_file_parses_to_known_kinds():
    kinds = {str(p.relative_to(K8S)): [d["kind"] for d in _yaml_docs(p)]
             for p in K8S.rglob("*.yaml")}
    assert kinds == {
        "configmap.yaml": ["ConfigMap"],
        "cronjob.yaml": ["CronJob"],
        "operator/secret.example.yaml": ["Secret"],
        "operator/job-dry-run.yaml": ["Job"],
        "operator/job-resume.yaml": ["Job"],
        "operator/job-approve.yaml": ["Job"],
    }


def test_kubectl_apply_of_the_directory_takes_no_placeholder_and_no_generate_name():
    """``kubectl apply -f deploy/k8s/`` reads the directory's own files, not operator/."""
    applied = [d for p in K8S.glob("*.y*ml") for d in _yaml_docs(p)]
    assert sorted(d["kind"] for d in applied) == ["ConfigMap", "CronJob"]
    assert not [d for d in applied if "generateName" in d["metadata"]]


@pytest.mark.parametrize("path", PODS, ids=lambda p: p.name)
def test_k8s_pods_meet_the_restricted_pod_security_standard(path):
    pod, container = _pod_spec(path), _container(path)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    assert all(set(v) - {"name"} == {"emptyDir"} for v in pod["volumes"])
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["runAsNonRoot"] is True and pod["securityContext"]["runAsNonRoot"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is True
    assert "privileged" not in context


@pytest.mark.parametrize("path", PODS, ids=lambda p: p.name)
def test_finished_jobs_are_cleaned_up(path):
    doc = _one(path)
    job = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    assert 86_400 <= job["ttlSecondsAfterFinished"] <= 30 * 86_400


_WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


def test_timer_and_cronjob_fire_at_the_same_time_in_utc():
    on_calendar = _unit(SYSTEMD / "paymentprocess.timer")["Timer"]["OnCalendar"]
    day, date, clock, zone = on_calendar.split()
    cronjob = _one(K8S / "cronjob.yaml")["spec"]
    minute, hour, day_of_month, month, weekday = cronjob["schedule"].split()
    assert (zone, cronjob["timeZone"]) == ("UTC", "Etc/UTC")
    assert (date, day_of_month, month) == ("*-*-*", "*", "*")
    assert day == _WEEKDAYS[int(weekday)]
    assert clock == f"{int(hour):02d}:{int(minute):02d}:00"


# --- docs ----------------------------------------------------------------------------------


def test_deploy_readme_names_every_deploy_file():
    readme = (DEPLOY / "README.md").read_text()
    for path in DEPLOY_FILES:
        if path.name != "README.md":
            assert f"`{path.relative_to(DEPLOY)}`" in readme, path


def test_runbook_covers_exit_codes_stages_variables_and_redaction():
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for code in range(6):
        assert re.search(rf"^\| {code} \|", runbook, flags=re.M), f"exit code {code}"
    for stage in ("NEW", "DRY_RUN", "FINAL_RUNNING", "FINAL"):
        assert f"`{stage}`" in runbook
    for var in ENV_VARS:
        assert f"`{var}`" in runbook
    assert "--resume" in runbook and "`***`" in runbook
