"""The feedback service: residents' unprompted feedback, themed and reported by place."""
