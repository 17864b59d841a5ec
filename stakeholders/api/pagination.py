"""Pages of every API list: ?limit= up to MAX_LIMIT (a larger one is served as MAX_LIMIT), and
an ?offset= no list can reach refused in words rather than sent to the database."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500
MAX_OFFSET = 10**9


class ApiPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = MAX_LIMIT

    def get_offset(self, request) -> int:
        offset = super().get_offset(request)
        if offset > MAX_OFFSET:
            raise ValidationError(
                {self.offset_query_param: [f"Use an offset up to {MAX_OFFSET:,}."]}
            )
        return offset
