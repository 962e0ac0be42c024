"""Controls after the dry run (spec section 14): approval, history and comparison, void and
reissue, the auditor's report. ``python -m PaymentProcess.controls --help`` lists the commands."""
