"""Regions Neon offers (``GET /regions``); projects may only be created in these."""

from __future__ import annotations

from typing import Any

REGIONS: dict[str, tuple[str, str, str]] = {
    "aws-us-east-1": ("AWS US East (N. Virginia)", "38.9", "-77.4"),
    "aws-us-east-2": ("AWS US East (Ohio)", "40.4", "-82.9"),
    "aws-us-west-2": ("AWS US West (Oregon)", "45.8", "-119.7"),
    "aws-eu-central-1": ("AWS Europe (Frankfurt)", "50.1", "8.7"),
    "aws-eu-west-2": ("AWS Europe (London)", "51.5", "-0.1"),
    "aws-ap-southeast-1": ("AWS Asia Pacific (Singapore)", "1.4", "103.8"),
    "aws-ap-southeast-2": ("AWS Asia Pacific (Sydney)", "-33.9", "151.2"),
    "aws-sa-east-1": ("AWS South America (São Paulo)", "-23.5", "-46.6"),
    "azure-eastus2": ("Azure East US 2 (Virginia)", "36.7", "-78.4"),
    "azure-westus3": ("Azure West US 3 (Arizona)", "33.4", "-112.1"),
    "azure-gwc": ("Azure Germany West Central (Frankfurt)", "50.1", "8.7"),
}


def listing(default: str) -> list[dict[str, Any]]:
    return [
        {"region_id": rid, "name": name, "default": rid == default, "geo_lat": lat, "geo_long": lon}
        for rid, (name, lat, lon) in REGIONS.items()
    ]
