"""Drop-in replacements for the APIs of the documents icmpkit was specified
from, on icmpkit: ``icmpkit.compat.ttlinks`` (ttlinks' ICMP ping manager,
subnet helper and echo-request builder)."""
