"""Command line: ``python -m PaymentProcess.synthetic --db-uri URI [options]``."""

from __future__ import annotations

import click

from PaymentProcess.synthetic.generator import GenerationSummary, SyntheticOptions, generate
from PaymentProcess.utils.error_handling import PaymentProcessError
from PaymentProcess.utils.logging import redact


def format_summary(summary: GenerationSummary) -> str:
    """A short human-readable account of what was generated."""
    lines = [f"events: {', '.join(summary.event_ids)}"]
    lines += [f"  {name}: {count}" for name, count in summary.counts.items()]
    if summary.bad_claims:
        codes = ", ".join(f"{code}={len(ids)}" for code, ids in summary.bad_claims.items())
        lines.append(f"bad claims: {codes}")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db-uri", required=True, envvar="PAYMENT_DB_URI",
              help="Store to write: mongodb://..., mongomock://PATH (env PAYMENT_DB_URI).")
@click.option("--claims", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Valid claims per cycle.")
@click.option("--payees", type=click.IntRange(min=1), default=50, show_default=True,
              help="Payees the claims are spread over (about a tenth new).")
@click.option("--pc-type", type=click.Choice(["provider", "dmr"], case_sensitive=False),
              default="provider", show_default=True, help="Who the events pay.")
@click.option("--cycles", type=click.IntRange(min=1), default=1, show_default=True,
              help="Consecutive weekly payment events.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--bad-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Extra malformed claims per cycle, as a share of --claims.")
@click.option("--add-events", is_flag=True,
              help="Add --cycles new events and their claims to a store that holds data, "
                   "changing nothing already there (otherwise the store must be empty).")
def main(
    db_uri: str, claims: int, payees: int, pc_type: str, cycles: int, seed: int, bad_rate: float,
    add_events: bool,
) -> None:
    """Generate a deterministic synthetic payment-cycle store (into an empty store only)."""
    from PaymentProcess.common.functions import close_connection, get_connection
    from PaymentProcess.synthetic.additions import add_events as add

    options = SyntheticOptions(
        claims=claims, payees=payees, pc_type=pc_type.upper(), cycles=cycles, seed=seed,
        bad_rate=bad_rate,
    )
    try:
        store = get_connection(db_uri, create=True)
        try:
            summary = (add if add_events else generate)(store.db, options)
            store.checkpoint()
        finally:
            close_connection()
    except PaymentProcessError as error:
        click.echo(f"error: {redact(db_uri)}: {redact(str(error))}", err=True)
        raise SystemExit(error.exit_code) from error
    click.echo(format_summary(summary))


if __name__ == "__main__":
    main(prog_name="python -m PaymentProcess.synthetic")
