"""Suite-wide settings."""

from hypothesis import HealthCheck, settings

# Wall-clock deadlines make property tests flaky on a loaded 2-core CI machine; what they check is
# correctness, and speed is measured in bench/, never asserted in tests.
settings.register_profile("recon", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("recon")
