"""placeholder"""
ENDPOINTS = []
