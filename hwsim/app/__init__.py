"""The application on top of the accelerator model: CLI commands, simulation output and plots,
curated reports, sweeps, end-to-end studies and the demo. Nothing below it imports it."""
