"""(being ported; see the issue)"""
