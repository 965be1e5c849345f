"""CDK infrastructure, one construct per concern, built from roam_emp.topology (the description
local mode uses too)."""
