"""``ai-trader alerts``: the alert channels (``ai_trader_assets.ops.alerts``)."""

import typer

from ai_trader_assets.cli.common import USER_ERRORS, console, fail

app = typer.Typer(help="Alerts: Slack, e-mail and webhook channels.", no_args_is_help=True)

VARIABLES = (
    "AI_TRADER_SLACK_WEBHOOK_URL, AI_TRADER_ALERT_WEBHOOK_URL, "
    "or AI_TRADER_SMTP_URL with AI_TRADER_ALERT_EMAIL_TO"
)


@app.command("test")
def alerts_test() -> None:
    """Send one test alert to every configured channel and say which answered. Exit code 1 when a
    configured channel failed; 0 when every one answered, or none is configured."""
    from ai_trader_assets.config import cached_config
    from ai_trader_assets.ops.alerts import build_notifier, load_alert_environment, send_test_alert
    from ai_trader_assets.settings import load_settings

    try:
        environment = load_alert_environment()
        spec = cached_config(str(load_settings().config_dir)).pipeline.alerts
    except USER_ERRORS as exc:
        fail(exc)
    notifier = build_notifier(environment, spec)
    if not notifier.configured:
        console.print(f"no alert channel is configured: nothing sent (set {VARIABLES})", highlight=False)
        return
    report = send_test_alert(notifier, environment.ui_url)
    for channel in report.channels:
        if channel.ok:
            console.print(f"[green]ok[/]      {channel.channel}: test alert accepted", highlight=False)
        else:
            console.print(f"[bold red]failed[/]  {'; '.join(channel.errors)}", highlight=False)
    if not report.ok:
        raise typer.Exit(code=1)
